"""The lab's fixtures (lab.testing) and helpers for the lab's own tests."""

from __future__ import annotations

from lab.testing import fault, lab

__all__ = ["fault", "lab"]
