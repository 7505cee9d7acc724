"""Pure rules of the request checks (SEC-121..123): the API's request log lines + thresholds
-> Finding | NoData | None.

No rule talks to a server. They judge the lines fixtures/logs.py reads once per sweep (the
errors section's read of the API pods' logs, shared), turned into `Request`s by
`requests_in` over the last `RequestSettings.window_s`:

- SEC-121: per client address, its 401/403/404 answers against a floor and their share
  of the address's answers (the runbook's `jq 'select(.statusCode >= 400)'`, per address);
- SEC-122: requests whose percent-decoded path or query matches a scanner signature (SQL
  injection, XSS, path traversal, probe paths);
- SEC-123: one address's share of all requests, once the window holds enough to judge.

Client addresses are shown (an investigation needs them); secret-looking query values
(token=, password=, api_key=, ...) are masked in every example path. A rule with no
request to judge, or without the fields it needs, returns NoData.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

from checks.database.wording import plural
from checks.errors.logs import PodLog
from checks.security.blocks import contained
from checks.security.finding_data import Offenders
from checks.security.request_settings import RequestSettings
from opscheck import Finding, NoData
from opscheck.redaction import MASK

NO_ADDRESS = "(no address)"


@dataclass(frozen=True)
class Request:
    at: datetime
    address: str
    status: int
    method: str
    url: str
    """The path and query string as logged (percent-encoded as received)."""


@dataclass(frozen=True)
class Requests:
    """The window's requests, and what the read could not give."""

    requests: Sequence[Request]
    window_s: float
    lines: int  # log lines in the window, requests or not
    capped: Sequence[str] = ()  # pods whose read hit tailLines


def field_of(data: Mapping[str, object], name: str) -> object:
    """A dotted field (`req.remoteAddress`) of a JSON object, or None."""
    value: object = data
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def path_of(url: str) -> str:
    return url.split("?", 1)[0]


def requests_in(
    logs: Sequence[PodLog], now: datetime, s: RequestSettings, read_window_s: float
) -> Requests:
    """The request lines of the last `window_s` (no more than the read covers)."""
    window_s = min(s.window_s, read_window_s)
    since = now - timedelta(seconds=window_s)
    found, lines = [], 0
    for log in logs:
        for line in log.lines:
            if line.at < since:
                continue
            lines += 1
            if s.request_message and line.message != s.request_message:
                continue
            status = field_of(line.fields, s.status_field)
            if not isinstance(status, int) or isinstance(status, bool):
                continue
            url = str(field_of(line.fields, s.url_field) or "")
            if url and path_of(url) in s.exclude_paths:
                continue
            address = field_of(line.fields, s.address_field)
            method = field_of(line.fields, s.method_field)
            found.append(
                Request(line.at, str(address or NO_ADDRESS), status, str(method or "?"), url)
            )
    capped = [log.pod for log in logs if log.truncated]
    return Requests(found, window_s, lines, capped)


def no_requests(reqs: Requests, s: RequestSettings, need: str) -> NoData | None:
    """NoData when the window holds no request line, or none carries the field `need`."""
    if not reqs.requests:
        return NoData(
            f"no request lines in the API pods' logs in the last {reqs.window_s:g}s "
            f"({plural(reqs.lines, 'log line')}; a request line carries "
            f"{s.status_field}"
            + (f" and the message {s.request_message!r}" if s.request_message else "")
            + "): nothing to judge; are security_requests.status_field and request_message "
            "what the API logs?"
        )
    field = {"address": s.address_field, "url": s.url_field}[need]
    if need == "address" and all(r.address == NO_ADDRESS for r in reqs.requests):
        return NoData(
            f"none of the {plural(len(reqs.requests), 'request line')} carries the client "
            f"address ({field}): addresses cannot be told; set security_requests.address_field"
        )
    if need == "url" and not any(r.url for r in reqs.requests):
        return NoData(
            f"none of the {plural(len(reqs.requests), 'request line')} carries the path "
            f"({field}): signatures cannot be matched; set security_requests.url_field"
        )
    return None


def addresses(count: int) -> str:
    return plural(count, "address", "addresses")


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def seen(requests: Sequence[Request]) -> str:
    times = [r.at for r in requests]
    return f"first seen {stamp(min(times))}, last seen {stamp(max(times))}"


def redact_query(url: str, s: RequestSettings) -> str:
    """The URL with the values of secret-looking query parameters masked."""
    path, mark, query = url.partition("?")
    if not mark:
        return url
    secret = {name.lower() for name in s.secret_params}
    parts = []
    for pair in query.split("&"):
        name, eq, _ = pair.partition("=")
        if eq and unquote_plus(name).strip().lower() in secret:
            pair = f"{name}={MASK}"
        parts.append(pair)
    return f"{path}?{'&'.join(parts)}"


def decoded(url: str, rounds: int = 3) -> str:
    """Percent-decoding until it changes nothing (double encoding is a scanner's trick)."""
    for _ in range(rounds):
        plain = unquote_plus(url)
        if plain == url:
            break
        url = plain
    return url


def example(request: Request, s: RequestSettings, width: int = 120) -> str:
    url = redact_query(request.url, s)
    url = url if len(url) <= width else url[: width - 3] + "..."
    return f"{request.method} {url} -> {request.status}"


def by_address(requests: Iterable[Request]) -> dict[str, list[Request]]:
    groups: dict[str, list[Request]] = defaultdict(list)
    for r in requests:
        groups[r.address].append(r)
    return groups


def _statuses(s: RequestSettings) -> str:
    return "/".join(map(str, s.client_error_statuses))


def client_errors(reqs: Requests, s: RequestSettings) -> Finding | NoData | None:
    """SEC-121: addresses answered 401/403/404 at least `client_errors_min` times in the
    window, for at least `client_error_share` of their requests."""
    missing = no_requests(reqs, s, "address")
    if missing:
        return missing
    codes = set(s.client_error_statuses)
    flagged = []
    for address, mine in by_address(reqs.requests).items():
        bad = [r for r in mine if r.status in codes]
        if len(bad) >= s.client_errors_min and len(bad) / len(mine) >= s.client_error_share:
            flagged.append((address, bad, mine))
    if not flagged:
        return None
    flagged.sort(key=lambda f: (-len(f[1]), f[0]))
    top, bad, mine = flagged[0]
    summary = (
        f"{addresses(len(flagged))} answered {_statuses(s)} {s.client_errors_min} or "
        f"more times in the last {reqs.window_s:g}s, for {s.client_error_share:.0%} or more "
        f"of its requests (most: {top}, {len(bad)} of {len(mine)})"
    )
    evidence = []
    for address, bad, mine in flagged[: s.evidence_rows]:
        counts = Counter(r.status for r in bad)
        split = ", ".join(f"{n} x {code}" for code, n in sorted(counts.items()))
        evidence.append(
            f"address {address}: {len(bad)} of {len(mine)} requests answered {_statuses(s)} "
            f"({len(bad) / len(mine):.0%}, {len(bad) / reqs.window_s:.1f}/s; {split}), "
            f"{seen(bad)}; e.g. {example(bad[-1], s)}"
        )
    evidence += _more(flagged, s)
    evidence += [f"{pod}: read capped at errors.log_tail_lines" for pod in reqs.capped]
    return Finding(summary, evidence, _offenders("SEC-121", [a for a, _, _ in flagged]))


def signatures_of(request: Request, compiled: Mapping[str, list[re.Pattern[str]]]) -> list[str]:
    """The categories whose patterns match the request's decoded path or query."""
    plain = decoded(request.url)
    return [
        category
        for category, patterns in compiled.items()
        if any(p.search(plain) for p in patterns)
    ]


def scanner_requests(reqs: Requests, s: RequestSettings) -> Finding | NoData | None:
    """SEC-122: requests whose decoded path or query matches a scanner signature."""
    missing = no_requests(reqs, s, "url")
    if missing:
        return missing
    compiled = s.compiled()
    matched: list[tuple[Request, list[str]]] = []
    for r in reqs.requests:
        categories = signatures_of(r, compiled)
        if categories:
            matched.append((r, categories))
    if len(matched) < s.scanner_requests_min:
        return None
    groups: dict[str, list[tuple[Request, list[str]]]] = defaultdict(list)
    for r, categories in matched:
        groups[r.address].append((r, categories))
    ranked = sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))
    top, top_hits = ranked[0]
    summary = (
        f"{plural(len(matched), 'request')} with scanner signatures in the last "
        f"{reqs.window_s:g}s from {addresses(len(groups))} (most: {top}, "
        f"{len(top_hits)}: {', '.join(_categories(top_hits))})"
    )
    evidence = []
    for address, hits in ranked[: s.evidence_rows]:
        requests = [r for r, _ in hits]
        statuses = Counter(r.status for r in requests)
        answered = ", ".join(f"{n} x {code}" for code, n in sorted(statuses.items()))
        evidence.append(
            f"address {address}: {plural(len(hits), 'request')} matching "
            f"{', '.join(_categories(hits))} (answered {answered}), {seen(requests)}"
        )
    for category in compiled:
        first = next((r for r, cats in matched if category in cats), None)
        if first is not None:
            n = sum(category in cats for _, cats in matched)
            evidence.append(f"{category}: {n}, e.g. from {first.address}: {example(first, s)}")
    evidence += _more(ranked, s)
    evidence += [f"{pod}: read capped at errors.log_tail_lines" for pod in reqs.capped]
    return Finding(summary, evidence, _offenders("SEC-122", list(groups)))


def _offenders(check: str, flagged: Iterable[str]) -> Offenders:
    """What SEC-R01 blocks: the flagged addresses (a line without one is no address)."""
    return Offenders(check, tuple(sorted({a for a in flagged if a != NO_ADDRESS})))


def uncontained(
    reqs: Requests, held: Mapping[str, datetime], settle_s: float
) -> tuple[Requests, list[str]]:
    """The requests a block in force does not already contain (blocks.contained), and one
    line per blocked address whose earlier requests are left out."""
    kept, left = [], Counter[str]()
    for r in reqs.requests:
        if contained(r.address, r.at, held, settle_s):
            left[r.address] += 1
        else:
            kept.append(r)
    notes = [
        f"{address} blocked since {stamp(held[address])}: its {plural(n, 'request')} from "
        "before the block not judged"
        for address, n in sorted(left.items())
    ]
    return replace(reqs, requests=kept), notes


def _categories(hits: Sequence[tuple[Request, list[str]]]) -> list[str]:
    counts = Counter(c for _, cats in hits for c in cats)
    return [f"{category} {n}" for category, n in counts.most_common()]


def _more(rows: Sequence[object], s: RequestSettings) -> list[str]:
    left = len(rows) - s.evidence_rows
    return [f"... and {addresses(left)} more"] if left > 0 else []


def traffic_share(reqs: Requests, s: RequestSettings) -> Finding | NoData | None:
    """SEC-123: one address sent more than `traffic_share_max` of the window's requests;
    fewer than `traffic_min_requests` requests are too few to judge a share."""
    missing = no_requests(reqs, s, "address")
    if missing:
        return missing
    total = len(reqs.requests)
    if total < s.traffic_min_requests:
        return NoData(
            f"{plural(total, 'request')} in the API pods' logs in the last "
            f"{reqs.window_s:g}s, fewer than security_requests.traffic_min_requests "
            f"({s.traffic_min_requests}): too few to judge one address's share"
        )
    groups = by_address(reqs.requests)
    ranked = sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))
    over = [(a, mine) for a, mine in ranked if len(mine) / total > s.traffic_share_max]
    if not over:
        return None
    top, mine = over[0]
    summary = (
        f"{addresses(len(over))} sent more than {s.traffic_share_max:.0%} of the "
        f"{total} requests in the last {reqs.window_s:g}s (most: {top}, {len(mine)}, "
        f"{len(mine) / total:.0%})"
    )
    evidence = []
    for address, reqs_of in ranked[: s.evidence_rows]:
        paths = Counter(path_of(redact_query(r.url, s)) for r in reqs_of).most_common(3)
        top_paths = ", ".join(f"{p or '?'} {n}" for p, n in paths)
        evidence.append(
            f"address {address}: {len(reqs_of)} requests ({len(reqs_of) / total:.0%}, "
            f"{len(reqs_of) / reqs.window_s:.1f}/s), {seen(reqs_of)}; paths: {top_paths}"
        )
    evidence.append(f"{len(groups)} addresses in all")
    evidence += [f"{pod}: read capped at errors.log_tail_lines" for pod in reqs.capped]
    return Finding(summary, evidence, _offenders("SEC-123", [a for a, _ in over]))


def request_counts(reqs: Requests, s: RequestSettings) -> str:
    """What the checks measured, for their output."""
    groups = by_address(reqs.requests)
    codes = set(s.client_error_statuses)
    bad = sum(r.status in codes for r in reqs.requests)
    busiest = max(groups.items(), key=lambda g: len(g[1]), default=None)
    most = f"; busiest address {busiest[0]}: {len(busiest[1])}" if busiest else ""
    return (
        f"{plural(len(reqs.requests), 'request')} from {addresses(len(groups))} in "
        f"the API pods' logs in the last {reqs.window_s:g}s, {bad} answered {_statuses(s)}"
        f"{most}"
    )
