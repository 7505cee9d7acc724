"""Pure rules of the login checks (SEC-111..114): the login log's counts + thresholds ->
Finding | NoData | None.

No rule talks to a server. They judge what fixtures/auth_logs.py reads once per session
(and unit tests load from tests/data/security/), every read over the same recent window
(`LoginSettings.window_s`, ending at the server's now()):

- windows: `oldest_age_s`, the age of the table's oldest row (None: the table is empty),
  and `counts`, one row per window: `kind` (recent, before: the windows just before it,
  day: the same window on a previous day), `ago_s` (how long before now it ends),
  `logins` and `failed`;
- accounts: the accounts with failed logins in the window, most failures first:
  `account` (the e-mail tried, else the user id), `user_id`, `failures`, `addresses` and
  `some_addresses`, `first_seen`, `last_seen`, and `total` (failing accounts in all);
- addresses: the same per client address: `address`, `failures`, `accounts` and
  `some_accounts`, `first_seen`, `last_seen`, `total`;
- bursts: each login that succeeded in the window, with the failures from its address in
  the `burst_window_s` before it: `address`, `account`, `user_id`, `succeeded_at`,
  `failures`, `same_account` (of them for the account that got in), `failed_accounts`,
  `first_seen`, `last_seen`.

Client addresses and accounts are shown (an investigation needs them); the log holds no
password and no rule reads one. A rule with nothing to judge, neither a login in the
window nor any row before it, returns NoData.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from checks.database.wording import duration, plural
from checks.security.blocks import contained
from checks.security.finding_data import Exposure, Offenders
from checks.security.login_settings import LoginSettings
from opscheck import Finding, NoData

Row = Mapping[str, Any]


def seen(value: object) -> str:
    """A timestamp as UTC to the second (2026-11-30 09:40:01Z); other values as given."""
    if isinstance(value, datetime):
        stamp = value.astimezone(UTC) if value.tzinfo else value
        return stamp.strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


def nothing_to_judge(windows: Row, s: LoginSettings) -> NoData | None:
    """NoData when the window holds no login and the table nothing before it."""
    recent = _recent(windows)
    if recent.get("logins") or _has_history(windows, s):
        return None
    empty = "is empty" if windows.get("oldest_age_s") is None else "has no row before it"
    return NoData(
        f"no logins in {s.table} in the last {duration(s.window_s)}, and the table {empty}: "
        f"nothing to judge; is the API writing its login log there (security_logins.table)?"
    )


def login_counts(windows: Row, s: LoginSettings) -> str:
    """What SEC-111 measured, for its output: the window and its baseline."""
    recent = _recent(windows)
    return (
        f"{recent.get('failed', 0)} failed of {plural(recent.get('logins', 0), 'login')} in "
        f"{s.table} in the last {duration(s.window_s)}; {_baseline_line(windows, s)}"
    )


def failed_login_spike(
    windows: Row, accounts: Sequence[Row], addresses: Sequence[Row], s: LoginSettings
) -> Finding | NoData | None:
    """SEC-111: the window's failed logins reach the floor and exceed the multiple of the
    baseline (the median failed logins of the earlier windows the table covers). Without
    any earlier window, the floor alone judges, and the evidence says so."""
    missing = nothing_to_judge(windows, s)
    if missing:
        return missing
    failed = int(_recent(windows).get("failed") or 0)
    baseline = _baseline(windows, s)
    limit = s.spike_ratio * baseline if baseline is not None else None
    if failed < s.spike_min_failures or (limit is not None and failed <= limit):
        return None
    if limit is None:
        against = f"at least {s.spike_min_failures}, with no baseline"
    else:
        against = (
            f"at least {s.spike_min_failures} and more than {s.spike_ratio:g} x the baseline "
            f"{baseline:g}"
        )
    top = sorted(addresses, key=lambda r: (-r["failures"], str(r["address"])))
    return Finding(
        f"{failed} failed logins in the last {duration(s.window_s)} ({against})",
        [
            _baseline_line(windows, s),
            *[_address_line(r) for r in top[: s.evidence_rows]],
            *[_account_line(r) for r in accounts[: s.evidence_rows]],
        ],
    )


def brute_force(windows: Row, accounts: Sequence[Row], s: LoginSettings) -> Finding | NoData | None:
    """SEC-112: an account with brute_force_failures or more failed logins in the window."""
    missing = nothing_to_judge(windows, s)
    if missing:
        return missing
    hit = [r for r in accounts if r["failures"] >= s.brute_force_failures]
    if not hit:
        return None
    worst = hit[0]
    return Finding(
        f"{_how_many(hit, accounts, 'account')} with {s.brute_force_failures} or more failed "
        f"logins in the last {duration(s.window_s)} (most: {worst['account']}, "
        f"{worst['failures']})",
        [_account_line(r) for r in hit[: s.evidence_rows]] + _more(hit, s),
    )


def credential_stuffing(
    windows: Row, addresses: Sequence[Row], s: LoginSettings
) -> Finding | NoData | None:
    """SEC-113: an address failing logins for stuffing_accounts or more accounts."""
    missing = nothing_to_judge(windows, s)
    if missing:
        return missing
    hit = sorted(
        (r for r in addresses if r["accounts"] >= s.stuffing_accounts),
        key=lambda r: (-r["accounts"], -r["failures"], str(r["address"])),
    )
    if not hit:
        return None
    worst = hit[0]
    return Finding(
        f"{_how_many(hit, addresses, 'address', 'addresses')} failing logins for "
        f"{s.stuffing_accounts} or more accounts in the last {duration(s.window_s)} "
        f"(most: {worst['address']}, {worst['accounts']} accounts)",
        [_address_line(r, accounts_shown=True) for r in hit[: s.evidence_rows]] + _more(hit, s),
        Offenders("SEC-113", tuple(sorted({str(r["address"]) for r in hit}))),
    )


def uncontained(
    addresses: Sequence[Row], held: Mapping[str, datetime], settle_s: float
) -> list[Row]:
    """The address rows a block in force does not already contain: an address last seen
    before its block held is contained (blocks.contained)."""
    return [
        r
        for r in addresses
        if not (
            isinstance(r.get("last_seen"), datetime)
            and contained(str(r["address"]), r["last_seen"], held, settle_s)
        )
    ]


def login_after_burst(
    windows: Row,
    bursts: Sequence[Row],
    s: LoginSettings,
    live: Callable[[Sequence[str]], Mapping[str, int] | None] | None = None,
) -> Finding | NoData | None:
    """SEC-114: a login that succeeded right after burst_failures or more failures from its
    address (within burst_window_s before it), for the same account or for others.

    `live` counts the suspected accounts' live sessions (None: cannot be told): an account
    with none left holds no session the attacker could use; its login is contained (its
    sessions ended, SEC-R04) and no longer fails the check, and the output says so."""
    missing = nothing_to_judge(windows, s)
    if missing:
        return missing
    latest: dict[tuple[str, str], Row] = {}
    for r in bursts:
        if r["failures"] < s.burst_failures:
            continue
        key = (str(r["address"]), str(r["account"]))
        if key not in latest or str(r["succeeded_at"]) > str(latest[key]["succeeded_at"]):
            latest[key] = r
    hit = sorted(latest.values(), key=lambda r: (-r["failures"], str(r["address"])))
    ids = sorted({str(r["user_id"]) for r in hit if r.get("user_id") is not None})
    sessions = live(ids) if live is not None and ids else None
    if sessions is not None:
        ended = [r for r in hit if sessions.get(str(r.get("user_id")), 1) == 0]
        for r in ended:
            print(f"contained: {r['account']} logged in from {r['address']}; no live session left")
        hit = [r for r in hit if r not in ended]
    if not hit:
        return None
    worst = hit[0]
    return Finding(
        f"{plural(len(hit), 'login')} succeeded in the last {duration(s.window_s)} right after "
        f"{s.burst_failures} or more failures from the same address (most: "
        f"{worst['address']}, {worst['account']} after {worst['failures']}, "
        f"{_whose(worst)})",
        [_burst_line(r, s) for r in hit[: s.evidence_rows]] + _more(hit, s),
        Exposure(
            "SEC-114",
            user_ids=tuple(
                sorted({str(r["user_id"]) for r in hit if r.get("user_id") is not None})
            ),
            accounts=tuple(sorted({str(r["account"]) for r in hit})),
        ),
    )


# -- wording and arithmetic -------------------------------------------------------------


def _recent(windows: Row) -> Row:
    return next((c for c in windows.get("counts", ()) if c.get("kind") == "recent"), {})


def _covered(windows: Row, s: LoginSettings) -> list[Row]:
    """The earlier windows the table's rows reach back over (older ones are unknown)."""
    oldest = windows.get("oldest_age_s")
    if oldest is None:
        return []
    return [
        c
        for c in windows.get("counts", ())
        if c.get("kind") != "recent" and oldest >= c["ago_s"] + s.window_s
    ]


def _has_history(windows: Row, s: LoginSettings) -> bool:
    oldest = windows.get("oldest_age_s")
    return oldest is not None and oldest > s.window_s


def _baseline(windows: Row, s: LoginSettings) -> float | None:
    covered = _covered(windows, s)
    return float(statistics.median(c["failed"] for c in covered)) if covered else None


def _baseline_line(windows: Row, s: LoginSettings) -> str:
    covered = _covered(windows, s)
    if not covered:
        return (
            f"no baseline: {s.table} has no rows as old as the {duration(s.window_s)} before "
            f"this window, so the floor of {s.spike_min_failures} alone judges "
            f"(security_logins.spike_min_failures)"
        )
    before = [str(c["failed"]) for c in covered if c.get("kind") == "before"]
    days = [str(c["failed"]) for c in covered if c.get("kind") == "day"]
    parts = []
    if before:
        parts.append(f"the {len(before)} before: {', '.join(before)}")
    if days:
        parts.append(f"the same window 1..{len(days)} days ago: {', '.join(days)}")
    earlier = sum(1 for c in windows.get("counts", ()) if c.get("kind") != "recent")
    unknown = earlier - len(covered)
    note = f"; {unknown} older than the table's first row not counted" if unknown else ""
    return (
        f"baseline: median {_baseline(windows, s):g} failed per {duration(s.window_s)} over "
        f"{plural(len(covered), 'earlier window')} ({'; '.join(parts)}){note}"
    )


def _seen(r: Row) -> str:
    return f"first seen {seen(r.get('first_seen'))}, last seen {seen(r.get('last_seen'))}"


def _account_name(r: Row) -> str:
    user = r.get("user_id")
    return f"{r['account']} (user {user})" if user is not None else f"{r['account']} (no such user)"


def _account_line(r: Row) -> str:
    addresses = ", ".join(str(a) for a in r.get("some_addresses") or ())
    return (
        f"account {_account_name(r)}: {r['failures']} failed from "
        f"{plural(int(r.get('addresses') or 0), 'address', 'addresses')}"
        f"{f' ({addresses})' if addresses else ''}, {_seen(r)}"
    )


def _address_line(r: Row, accounts_shown: bool = False) -> str:
    line = (
        f"address {r['address']}: {r['failures']} failed for "
        f"{plural(int(r.get('accounts') or 0), 'account')}"
    )
    some = [str(a) for a in r.get("some_accounts") or ()]
    if accounts_shown and some:
        line += f" (among them {', '.join(some)})"
    return f"{line}, {_seen(r)}"


def _whose(r: Row) -> str:
    if r.get("same_account"):
        return "the same account"
    return "other accounts"


def _burst_line(r: Row, s: LoginSettings) -> str:
    failed_for = [str(a) for a in r.get("failed_accounts") or ()]
    if r.get("same_account"):
        whose = f"{r['same_account']} of them for the same account"
        others = [a for a in failed_for if a != str(r["account"])]
        if others:
            whose += f", others for {', '.join(others)}"
    else:
        whose = f"all for other accounts: {', '.join(failed_for)}"
    return (
        f"address {r['address']}: {_account_name(r)} logged in at {seen(r['succeeded_at'])} "
        f"after {r['failures']} failed logins from that address in the "
        f"{duration(s.burst_window_s)} before ({whose}; {_seen(r)})"
    )


def _how_many(hit: Sequence[Row], read: Sequence[Row], word: str, many: str | None = None) -> str:
    """'3 accounts', or 'at least 200 accounts' when the read stopped before the last one."""
    total = max((int(r.get("total") or 0) for r in read), default=0)
    exact = len(hit) < len(read) or total <= len(read)
    return ("" if exact else "at least ") + plural(len(hit), word, many)


def _more(hit: Sequence[Row], s: LoginSettings) -> list[str]:
    rest = len(hit) - s.evidence_rows
    return [f"... and {rest} more"] if rest > 0 else []
