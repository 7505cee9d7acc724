"""Pure rules of the Performance Issues section (PERF-1xx): application and cluster angle.

A rule returns a Finding (failed), None (passed) or NoData (inconclusive: exactly what was
missing); rules that may judge part of their question also return notes saying what they
left out. One module per concern (scaling.py is what PERF-R01 may scale); this package
re-exports their public names.

The database side of the runbook's section belongs to checks/database/.
"""

from __future__ import annotations

from checks.performance.latency import (
    RouteLatency,
    histogram_quantile,
    latency,
    route_latencies,
    unjudged_latency,
)
from checks.performance.nodes import node_pressure, node_saturation
from checks.performance.quantities import MIB, measured_at, millicores, quantity, window_s
from checks.performance.saturation import (
    PodUsage,
    QueriedSampling,
    Sampling,
    deployment_of,
    deployment_saturation,
    pod_usage,
    usage_of,
)
from checks.performance.scaling import (
    NodeCpu,
    cpu_saturated_nodes,
    saturating_workload,
    scale_targets,
    unspread_load,
    workloads_on,
)
from checks.performance.settings import PerformanceSettings
from opscheck import Section, Severity

# The runbook's Quick Reference has no row for this section: it shares High / 15 min /
# +30 min with High Error Rates, as slow responses are the same user-facing urgency.
SECTION = Section(
    "performance",
    "Performance Issues",
    "performance-issues",
    Severity.HIGH,
    "15 min",
    "+30 min",
    PerformanceSettings,
)

__all__ = [
    "MIB",
    "SECTION",
    "NodeCpu",
    "PodUsage",
    "QueriedSampling",
    "RouteLatency",
    "Sampling",
    "cpu_saturated_nodes",
    "deployment_of",
    "deployment_saturation",
    "histogram_quantile",
    "latency",
    "measured_at",
    "millicores",
    "node_pressure",
    "node_saturation",
    "pod_usage",
    "quantity",
    "route_latencies",
    "saturating_workload",
    "scale_targets",
    "unjudged_latency",
    "unspread_load",
    "usage_of",
    "window_s",
    "workloads_on",
]
