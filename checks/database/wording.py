"""How database findings word what they measure: durations, counts and statements.

`query_text` hides literals and comments, so a finding never shows the data a
statement carried (a password, an e-mail) and equal statements read the same.
"""

from __future__ import annotations

import re

_LITERAL = re.compile(
    r"(\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|$))"  # dollar-quoted
    r"|([EeBbXxNnUu]&?'(?:[^']|'')*(?:'|$))|('(?:[^']|'')*(?:'|$))"  # strings
    r"|((?<![\w$.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)",  # numbers, not $1 or t1
    re.S,
)
_COMMENT = re.compile(r"/\*.*?(?:\*/|$)|--[^\n]*", re.S)


def duration(seconds: float) -> str:
    """12s, 5.0min, 1.5h, 2.0d: short and unambiguous."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def query_text(sql: str | None, max_chars: int) -> str:
    """The statement with literals and comments replaced, whitespace collapsed, truncated."""
    text = _COMMENT.sub(" ", sql or "")
    text = _LITERAL.sub("?", text)
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"
