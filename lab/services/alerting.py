"""The lab's alerting path: Debian's Alertmanager and Pushgateway, and a receiver stand-in.

A sweep configured for alerting posts failing checks to Alertmanager's v2 API and pushes
its metrics to the Pushgateway, which the lab's Prometheus scrapes (prometheus.py). The
Alertmanager routes as the shipped example does (deploy/alerting/alertmanager.yml: the
runbook's critical to PagerDuty, high to Slack #oncall, the security section also to
#security-incidents), but each receiver is a webhook to the lab's stand-in
(alert_receiver.py), which records what Slack or PagerDuty would have received.

Its timings are seconds, not minutes, so a test sees a notification (and its
resolution) within seconds: group_wait and group_interval 1 s. Its HA gossip is off
(`--cluster.listen-address=`): a lab's Alertmanager has no peers, and the default port
9094 would collide between concurrent labs.
"""

from __future__ import annotations

import shutil
from typing import Any

import yaml

from lab.services.base import LabContext, Service, python_module
from lab.services.catalog import http_ok

ALERTMANAGER = "prometheus-alertmanager"
PUSHGATEWAY = "prometheus-pushgateway"
# The receivers of deploy/alerting/alertmanager.yml, by name: the stand-in's paths.
PAGERDUTY = "pagerduty"
SLACK_ONCALL = "slack-oncall"
SLACK_SECURITY = "slack-security-incidents"


def alertmanager_available() -> bool:
    return shutil.which(ALERTMANAGER) is not None


def pushgateway_available() -> bool:
    return shutil.which(PUSHGATEWAY) is not None


def alertmanager_config(receiver_url: str) -> dict[str, Any]:
    """Route like the shipped example, every receiver a webhook to the stand-in."""

    def webhook(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "webhook_configs": [{"url": f"{receiver_url}/{name}", "send_resolved": True}],
        }

    return {
        "route": {
            "receiver": SLACK_ONCALL,
            # One notification per check: a test (and an on-call engineer) sees each alone.
            "group_by": ["alertname", "environment", "check_id"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
            "routes": [
                # Security also pages (it is critical): continue to the severity routes.
                {"matchers": ['section="security"'], "receiver": SLACK_SECURITY, "continue": True},
                {"matchers": ['severity="critical"'], "receiver": PAGERDUTY},
                {"matchers": ['severity="high"'], "receiver": SLACK_ONCALL},
            ],
        },
        "receivers": [webhook(PAGERDUTY), webhook(SLACK_ONCALL), webhook(SLACK_SECURITY)],
    }


class AlertReceiverService(Service):
    """The webhook stand-in for Slack and PagerDuty (alert_receiver.py)."""

    name = "receiver"

    @property
    def port(self) -> int:
        return self.ctx.settings.receiver_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return python_module("lab.services.alert_receiver", self.ctx.paths.root)

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/health")


class AlertmanagerService(Service):
    name = "alertmanager"
    ready_timeout = 30.0

    def __init__(self, ctx: LabContext) -> None:
        super().__init__(ctx)
        self.home = ctx.paths.root / "alertmanager"

    @property
    def port(self) -> int:
        return self.ctx.settings.alertmanager_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        receiver = f"http://127.0.0.1:{self.ctx.settings.receiver_port}"
        config = alertmanager_config(receiver)
        (self.home / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def command(self) -> list[str]:
        return [
            ALERTMANAGER,
            f"--config.file={self.home / 'alertmanager.yml'}",
            f"--storage.path={self.home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/-/ready")


class PushgatewayService(Service):
    name = "pushgateway"

    @property
    def port(self) -> int:
        return self.ctx.settings.pushgateway_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        # No persistence file: a lab's pushed metrics live as long as the lab.
        return [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/-/ready")


def alerting_services(ctx: LabContext) -> list[Service]:
    """The alerting services this machine has the binaries for (scripts/bootstrap installs
    them); without Alertmanager the receiver has no one to hear from."""
    services: list[Service] = []
    if alertmanager_available():
        services += [AlertReceiverService(ctx), AlertmanagerService(ctx)]
    if pushgateway_available():
        services.append(PushgatewayService(ctx))
    return services
