"""Telling people about a sweep through the Prometheus ecosystem (optional, controller only).

`alerts` turns the sweep's check results into Alertmanager alerts (pure), `alertmanager`
is its bounded client, `metrics` builds the sweep's metrics and pushes them (bounded),
and `plugin` is the pytest glue, registered only when the profile configures alerting or
metrics_push.
"""
