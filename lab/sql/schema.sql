-- RoleRabbit's schema as the lab needs it: the tables and materialized views
-- the runbook's commands read. Run as rolerabbit_app, which then owns them
-- (PostgreSQL 15 lets only an owner VACUUM, ANALYZE or REFRESH).

CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    plan        text NOT NULL DEFAULT 'free',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE portfolios (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    title        text NOT NULL,
    theme        text NOT NULL,
    value_cents  bigint NOT NULL DEFAULT 0,
    published    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX portfolios_user_id_idx ON portfolios (user_id);
CREATE INDEX portfolios_updated_at_idx ON portfolios (updated_at);

CREATE TABLE auth_logs (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    user_id     bigint REFERENCES users (id),
    email       text,
    ip          inet,
    success     boolean NOT NULL,
    reason      text
);
CREATE INDEX auth_logs_created_at_idx ON auth_logs (created_at);

-- refreshed_at records when the view was last refreshed, so staleness is measurable.
CREATE MATERIALIZED VIEW portfolio_analytics_monthly AS
SELECT date_trunc('month', created_at) AS month,
       count(*)                        AS portfolios,
       count(DISTINCT user_id)         AS users,
       sum(value_cents)                AS total_value_cents,
       max(updated_at)                 AS last_portfolio_update,
       now()                           AS refreshed_at
FROM portfolios
GROUP BY 1;
-- REFRESH ... CONCURRENTLY needs a unique index on the view.
CREATE UNIQUE INDEX portfolio_analytics_monthly_month_idx ON portfolio_analytics_monthly (month);

CREATE MATERIALIZED VIEW portfolio_analytics_yearly AS
SELECT date_trunc('year', created_at) AS year,
       count(*)                       AS portfolios,
       count(DISTINCT user_id)        AS users,
       sum(value_cents)               AS total_value_cents,
       max(updated_at)                AS last_portfolio_update,
       now()                          AS refreshed_at
FROM portfolios
GROUP BY 1;
CREATE UNIQUE INDEX portfolio_analytics_yearly_year_idx ON portfolio_analytics_yearly (year);
