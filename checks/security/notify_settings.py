"""Who is told when a security check fails, under `security_notify:`.

The runbook rates a security breach Critical, respond and escalate immediately, and its
Notify step posts in #security-incidents. Until the suite has a notification path of its
own, the terminal summary prints `escalation` under the failing checks, so whoever ran the
sweep knows whom to call; a profile names its own contacts.
"""

from __future__ import annotations

from pydantic import Field

from opscheck.settings.base import Settings

ESCALATION = (
    "Critical, act now: page the on-call engineer (PagerDuty) and post in "
    "#security-incidents; bring in the senior engineer (Slack @senior-eng), the "
    "engineering manager (phone) and the CTO (email/phone) without waiting"
)


class NotifySettings(Settings):
    escalation: str = Field(ESCALATION, min_length=1)
    """The line printed when a security check fails."""

    def escalation_contacts(self) -> str | None:
        return self.escalation
