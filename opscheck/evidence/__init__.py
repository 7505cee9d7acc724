"""The evidence bundle and incident report of `--evidence`.

With the flag, the run writes, for each runbook section whose checks ran, a directory
`<reports>/incidents/<UTC timestamp>-<section>/` holding what the section's evidence
collectors read (`pytest_opscheck_evidence`: the security section's API pod logs and login
and change rows), the run's findings as JSON, and a `SHA256SUMS` manifest that
`sha256sum -c SHA256SUMS` verifies; beside it, the runbook's incident report
`<reports>/incidents/YYYY-MM-DD-<section>-incident.md`. Without the flag nothing is read
or written. Every file is redacted before it is written.
"""
