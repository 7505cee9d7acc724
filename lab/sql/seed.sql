-- Seed data, generated in the database so seeding takes about a second.
-- Timestamps end at least two hours ago: a freshly seeded lab shows no
-- "recent" portfolio changes and no failed-login spike.

INSERT INTO users (email, name, plan, created_at, updated_at)
SELECT 'user' || g || '@example.test',
       'User ' || g,
       (ARRAY['free', 'pro', 'team'])[1 + g % 3],
       now() - interval '730 days' + (g * interval '3 hours'),
       now() - interval '730 days' + (g * interval '3 hours')
FROM generate_series(1, 5000) AS g;

INSERT INTO portfolios (user_id, title, theme, value_cents, published, created_at, updated_at)
SELECT 1 + (g * 7919) % 5000,
       'Portfolio ' || g,
       (ARRAY['classic', 'modern', 'minimal', 'bold'])[1 + g % 4],
       (g::bigint * 104729) % 1000000,
       g % 5 <> 0,
       now() - interval '730 days' + (g * interval '20 minutes'),
       least(now() - interval '2 hours',
             now() - interval '730 days' + (g * interval '20 minutes') + ((g % 90) * interval '1 day'))
FROM generate_series(1, 50000) AS g;

INSERT INTO auth_logs (created_at, user_id, email, ip, success, reason)
SELECT now() - interval '2 hours' - (g * interval '2 minutes'),
       1 + (g * 31) % 5000,
       'user' || (1 + (g * 31) % 5000) || '@example.test',
       ('10.' || (g % 200) || '.' || (g % 250) || '.' || (1 + g % 250))::inet,
       g % 20 <> 0,
       CASE WHEN g % 20 = 0 THEN 'invalid_password' END
FROM generate_series(1, 20000) AS g;
