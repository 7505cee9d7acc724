"""The deployment tests' shared fixtures: a real registry without auth (registry_support)."""

from tests.deployment.registry_support import open_registry as open_registry
