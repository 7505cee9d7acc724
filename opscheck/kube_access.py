"""The core's own Kubernetes client, for the sweep Lease: bounded, named, never retried.

The core knows no client module of the suite (fixtures/ is a layer above it), so this
builds the official client the way fixtures/kubernetes.py does: KUBECONFIG (or
~/.kube/config) and the profile's context, no retries, the profile's connect and read
timeouts on every call, and the suite's User-Agent. Failures become one line saying why.
"""

from __future__ import annotations

from pathlib import Path

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from opscheck.environment import Environment

# How the suite names itself to the API server (audit logs, the lab's request counts).
USER_AGENT = "rolerabbit-opscheck/1"


class KubeUnreachable(Exception):
    """The API could not be used: unreachable in time, or no usable kubeconfig."""


SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def in_cluster(environment: Environment) -> bool:
    """In a pod, with no kubeconfig given or found: use the pod's service account (the
    CronJob of deploy/), as kubectl in a pod would."""
    return (
        not environment.variable("KUBECONFIG")
        and not Path("~/.kube/config").expanduser().exists()
        and bool(environment.variable("KUBERNETES_SERVICE_HOST"))
        and Path(SERVICE_ACCOUNT_TOKEN).exists()
    )


def connect(environment: Environment) -> tuple[k8s.ApiClient, str]:
    """An API client for the profile's context, and the server's address (for messages).

    Raises KubeUnreachable naming the kubeconfig when it cannot be loaded; its content is
    never quoted (it holds tokens).
    """
    kubeconfig = environment.variable("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    configuration = k8s.Configuration()
    try:
        if in_cluster(environment):
            kubeconfig = "the pod's service account"
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(
                config_file=kubeconfig,
                context=environment.profile.kubernetes.context,
                client_configuration=configuration,
            )
    except Exception as exc:  # whatever the loader trips on is the file's problem
        raise KubeUnreachable(
            f"unusable kubeconfig {kubeconfig} ({type(exc).__name__}); point KUBECONFIG "
            "at a working kubeconfig"
        ) from None
    configuration.retries = False  # fail fast and clearly rather than retry silently
    api = k8s.ApiClient(configuration)
    api.user_agent = USER_AGENT
    return api, str(configuration.host)


def unreachable_reason(exc: BaseException, timeouts: tuple[float, float]) -> str:
    """Why a call got no answer, in words: refused, timed out, DNS, TLS."""
    cause = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the real cause
    connect_s, read_s = timeouts
    # NewConnectionError is a ConnectTimeoutError in urllib3 2: ask for it first.
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "DNS lookup failed"
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in str(cause).lower() else "cannot connect"
    if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        return f"no connection within {connect_s:g}s"
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        return f"no answer within {read_s:g}s"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    return f"connection failed ({type(cause).__name__})"


# What a call may raise when the API cannot be reached.
TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)
