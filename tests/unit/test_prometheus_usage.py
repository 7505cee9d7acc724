"""Unit tests of the pods' usage from Prometheus (fixtures/prometheus_usage.py): the one
query, its matrix read back by pod, and how the rules say where the usage came from."""

from __future__ import annotations

from checks import errors as rules
from checks.errors.settings import ErrorsSettings
from checks.performance import QueriedSampling
from fixtures.prometheus_usage import points_of, usage_query
from opscheck import Finding

MIB = 2**20


def test_one_query_reads_memory_and_cpu_of_the_namespaces_containers() -> None:
    query = usage_query('job="kubernetes-cadvisor"', "rolerabbit-production", 120)
    matchers = (
        'job="kubernetes-cadvisor", namespace="rolerabbit-production", container!="", '
        'container!="POD"'
    )
    assert query == (
        f"label_replace(sum by (pod) (container_memory_working_set_bytes{{{matchers}}}), "
        '"usage", "memory", "", "") or '
        f"label_replace(sum by (pod) (rate(container_cpu_usage_seconds_total{{{matchers}}}[120s])), "
        '"usage", "cpu", "", "")'
    )
    assert "{namespace=" in usage_query("", "ns", 3)  # no selector: no empty matcher


def test_the_matrix_is_read_back_by_pod_and_time_cpu_in_millicores() -> None:
    matrix = [
        {"metric": {"pod": "api-1", "usage": "memory"}, "values": [[10, "100"], [11, "200"]]},
        {"metric": {"pod": "api-1", "usage": "cpu"}, "values": [[11, "0.25"]]},
        {"metric": {"usage": "cpu"}, "values": [[11, "1"]]},  # no pod: not a pod's
    ]
    memory, cpu = points_of(matrix)
    assert memory == {"api-1": {10.0: 100.0, 11.0: 200.0}}
    assert cpu == {"api-1": {11.0: 250.0}}


def test_a_leak_from_prometheus_says_what_it_was_measured_from() -> None:
    sampling = QueriedSampling("Prometheus at http://prom", 60, 30, 120, (3, 3))
    text = sampling.described()
    assert text == (
        "Prometheus at http://prom: container_memory_working_set_bytes and "
        "rate(container_cpu_usage_seconds_total[120s]) from cAdvisor, 3 points per pod over "
        "60 s, 30 s apart (one query_range)"
    )
    points = [(0.0, 150 * MIB), (30.0, 200 * MIB), (60.0, 250 * MIB)]
    series = rules.MemorySeries("api-1", "rolerabbit-api", 512 * MIB, points)
    finding, _ = rules.memory_leaks([series], "ns", ErrorsSettings(), text)
    assert isinstance(finding, Finding)
    assert finding.evidence[-1] == f"measured: {text}"
    assert "2-5 points" in QueriedSampling("P", 60, 30, 120, (5, 2)).described()
