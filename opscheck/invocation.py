"""`--config PATH` written with a space works like `--config=PATH`.

pytest chooses its rootdir and ini file before it loads any installed plugin, so at that
moment it cannot know that --config takes a value: PATH is taken for a test path, the
rootdir moves next to the profiles file, and testpaths, addopts and the default reports
directory (with its kill switch) are lost. When that would happen, the command is run again
once, as the same process, with `--config=PATH`, which pytest reads the same way at every
stage. In-process runs (pytest.main) cannot be re-run and get a usage error instead.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Generator, Sequence

import pytest

OPTION = "--config"


def split_value_index(args: Sequence[str]) -> int | None:
    """Index of a `--config` token whose value is the next token, if any."""
    for index, token in enumerate(args[:-1]):
        if token == "--":
            return None
        if token == OPTION:
            return index
    return None


def joined(args: Sequence[str]) -> list[str]:
    """`args` with every `--config VALUE` pair written as `--config=VALUE`."""
    out: list[str] = []
    items = iter(args)
    for token in items:
        if token == OPTION:
            value = next(items, None)
            out.append(OPTION if value is None else f"{OPTION}={value}")
        else:
            out.append(token)
    return out


def _misplaces_rootdir(config: pytest.Config, value: str) -> bool:
    """Whether pytest's early look took `value` for a test path that moved the rootdir."""
    known = config.known_args_namespace
    if getattr(known, "inifilename", None) or getattr(known, "rootdir", None):
        return False  # -c or --rootdir pin the rootdir; the value cannot move it
    path = (config.invocation_params.dir / value).resolve()
    if not path.exists():
        return False  # pytest derives nothing from a path that does not exist
    return config.inipath is None or config.rootpath.resolve() not in path.parents


# An outer wrapper, so the command is re-run before pytest starts capturing output.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, None, None]:
    rerun_with_joined_config(early_config)
    return (yield)


def rerun_with_joined_config(early_config: pytest.Config) -> None:
    addopts = os.environ.get("PYTEST_ADDOPTS", "")
    given = list(early_config.invocation_params.args)
    for source in (given, shlex.split(addopts)):
        index = split_value_index(source)
        if index is not None and _misplaces_rootdir(early_config, source[index + 1]):
            break
    else:
        return
    if given != sys.argv[1:]:
        raise pytest.UsageError(
            "write --config=PATH (with '='): pytest takes a separate PATH for a test path "
            "before this plugin is loaded"
        )
    if addopts:
        os.environ["PYTEST_ADDOPTS"] = shlex.join(joined(shlex.split(addopts)))
    prefix = sys.orig_argv[: len(sys.orig_argv) - len(given)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [*prefix, *joined(given)])
