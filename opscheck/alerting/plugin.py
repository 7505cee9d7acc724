"""The pytest glue of alerting and sweep metrics: registered on the controller only, and
only when the profile gives `alerting.alertmanager_url` or `metrics_push.pushgateway_url`.

At the end of a sweep it sends the failing checks to Alertmanager and resolves the alerts
of checks that now pass, then pushes the sweep's metrics. Neither can change the run's
exit code: that is the checks' verdict. An unreachable Alertmanager or Pushgateway costs
at most its timeout per request (two to Alertmanager, one push) and one warning line.
A dry run (`--fix --dry-run`) sends nothing: it changes nothing, and that includes what
people are told. An interrupted sweep sends nothing either: it judged only some checks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from opscheck.alerting.alertmanager import AlertmanagerClient, DeliveryError
from opscheck.alerting.alerts import CheckResult, firing_alert, resolutions
from opscheck.alerting.metrics import push, sweep_registry
from opscheck.reports.records import CheckRecord, RecordCollector, properties
from opscheck.sections import Sections
from opscheck.settings.alerting import Alerting, MetricsPush


class SweepNotifier:
    def __init__(
        self,
        collector: RecordCollector,
        sections: Sections,
        environment: str,
        run_id: str,
        alerting: Alerting,
        metrics_push: MetricsPush,
        redact: Callable[[str], str],
        dry_run: bool,
    ) -> None:
        self.collector = collector
        self.sections = sections
        self.environment = environment
        self.run_id = run_id
        self.alerting = alerting
        self.metrics_push = metrics_push
        self.redact = redact
        self.dry_run = dry_run
        self.texts: dict[str, str] = {}  # nodeid -> the failure's rendered text
        self.remediations: dict[str, str] = {}  # nodeid -> remediation id
        self.lines: list[str] = []  # what the terminal summary says about it

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = properties(report)
        if "remediation" in props:
            self.remediations[report.nodeid] = props["remediation"]
        if report.failed and report.longrepr is not None:
            self.texts[report.nodeid] = str(report.longrepr)

    def runbook_url(self, section: str) -> str:
        try:
            link = self.sections[section].runbook_link
        except KeyError:
            return ""
        base = self.alerting.runbook_url_base
        return f"{base}#{link.partition('#')[2]}" if base else link

    def result(self, record: CheckRecord) -> CheckResult:
        text = record.detail if record.status == "inconclusive" else ""
        return CheckResult(
            check_id=record.check_id,
            title=record.title,
            section=record.section,
            severity=record.severity,
            status=record.status,
            message=record.message,
            text=text or self.texts.get(record.nodeid, ""),
            remediation=self.remediations.get(record.nodeid, ""),
            runbook_url=self.runbook_url(record.section),
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        targets = [
            name
            for name, url in (
                ("Alertmanager", self.alerting.alertmanager_url),
                ("Pushgateway", self.metrics_push.pushgateway_url),
            )
            if url
        ]
        if self.dry_run:
            self.lines.append(f"alerting: a dry run sends nothing to {' or '.join(targets)}")
            return
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            self.lines.append(f"alerting: interrupted, nothing sent to {' or '.join(targets)}")
            return
        try:
            self.send(list(self.collector.records.values()))
        except Exception as exc:  # telling people must never change the verdict
            self.lines.append(
                self.redact(
                    f"alerting: WARNING internal error, not all was sent: "
                    f"{type(exc).__name__}: {exc} (the exit code is still the checks' verdict)"
                )
            )

    def send(self, records: list[CheckRecord]) -> None:
        results = {r.check_id: self.result(r) for r in records}
        if self.alerting.alertmanager_url:
            self.lines.append(self.send_alerts(self.alerting.alertmanager_url, results))
        if self.metrics_push.pushgateway_url:
            metrics = [(results[r.check_id], r.duration, r.fix) for r in records]
            self.lines.append(self.push_metrics(self.metrics_push.pushgateway_url, metrics))

    def send_alerts(self, url: str, results: dict[str, CheckResult]) -> str:
        settings, now = self.alerting, datetime.now(UTC)
        client = AlertmanagerClient(url, settings.timeout_s)
        wanted = [
            r
            for r in results.values()
            if r.alertname is not None and (settings.inconclusive or r.status != "inconclusive")
        ]
        firing = [
            firing_alert(
                r, self.environment, now=now, ttl_s=settings.alert_ttl_s,
                evidence_lines=settings.evidence_lines,
                evidence_max_chars=settings.evidence_max_chars,
                run_id=self.run_id, redact=self.redact,
            )
            for r in wanted
        ]  # fmt: skip
        try:
            active = client.active(self.environment)
            ended = resolutions(active, results, now, inconclusive=settings.inconclusive)
            if firing or ended:
                client.post(firing + ended)
        except DeliveryError as exc:
            return self.redact(
                f"alerting: WARNING alerts not sent: {exc} (bounded by alerting.timeout_s; "
                "the exit code is still the checks' verdict)"
            )
        return self.redact(
            f"alerting: Alertmanager {url}: {len(firing)} firing, {len(ended)} resolved"
        )

    def push_metrics(self, url: str, metrics: list[tuple[CheckResult, float, str]]) -> str:
        settings = self.metrics_push
        try:
            push(url, settings.job, self.environment, sweep_registry(metrics), settings.timeout_s)
        except DeliveryError as exc:
            return self.redact(
                f"alerting: WARNING metrics not pushed: {exc} (bounded by "
                "metrics_push.timeout_s; the exit code is still the checks' verdict)"
            )
        return self.redact(
            f"alerting: Pushgateway {url}: pushed {len(metrics)} checks' metrics "
            f"(job={settings.job}, environment={self.environment})"
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for line in self.lines:
            terminalreporter.write_line(line, yellow="WARNING" in line)


def register_notifier(
    config: pytest.Config,
    collector: RecordCollector,
    sections: Sections,
    environment: str,
    run_id: str,
    profile_alerting: Alerting,
    profile_metrics: MetricsPush,
    redact: Callable[[str], str],
) -> None:
    """Register the notifier when the profile configures either destination."""
    if not (profile_alerting.alertmanager_url or profile_metrics.pushgateway_url):
        return
    dry_run = bool(config.option.opscheck_fix and config.option.opscheck_dry_run)
    notifier = SweepNotifier(
        collector, sections, environment, run_id, profile_alerting, profile_metrics, redact,
        dry_run,
    )  # fmt: skip
    config.pluginmanager.register(notifier, "opscheck-alerting")
