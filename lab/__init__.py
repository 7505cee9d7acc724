"""The lab: a local RoleRabbit environment with real services, fault injection and a
Kubernetes API emulator (lab/k8s). Start it with `lab up`; see `lab --help`.

PYTEST_DONT_REWRITE: part of an installed distribution that pytest would otherwise mark
for assertion rewriting; the lab has no test assertions to rewrite.
"""
