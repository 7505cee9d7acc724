"""The lab's Kubernetes API emulator.

No real kube-apiserver can run in the lab, so this package is a small HTTP
server that speaks enough of the Kubernetes REST protocol for the official
``kubernetes`` Python client and a real ``kubectl`` to work against it
unchanged, plus "just enough controller" (deployments, replica sets, a
simulated kubelet) to make rollouts, crash loops and image pull errors happen
for real.  Start it in-process with :func:`lab.k8s.server.start_emulator` or as
``python -m lab.k8s``.  Faults are injected over the ``/_lab/`` HTTP API
documented in :mod:`lab.k8s.hooks`.
"""
