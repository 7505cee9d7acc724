"""`--config PATH` (or any of the suite's options that take a value, such as
`--reports-dir DIR`) written with a space works like `--config=PATH`.

pytest chooses its rootdir and ini file before it loads any installed plugin, so at that
moment it cannot know that these options take a value: an existing PATH is taken for a
test path, the rootdir moves to a common ancestor, and testpaths, addopts and the default
reports directory (with its kill switch) are lost; `pytest --reports-dir /tmp/r` would
collect the suite's own tests as well as its checks. When that would happen, the command
is run again once, as the same process, with `--option=VALUE`, which pytest reads the same
way at every stage. In-process runs (pytest.main) cannot be re-run and get a usage error
instead.

xdist starts its workers with the controller's invocation arguments, after the controller
has made the reports directory: a worker would then find the value an existing path and
move its rootdir. The controller hands them the joined form (`pytest_configure` below).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Generator

import pytest

from opscheck.arguments import joined, split_value_indexes


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
    misplaced = next(
        (
            source[index]
            for source in (given, shlex.split(addopts))
            for index in split_value_indexes(source)
            if _misplaces_rootdir(early_config, source[index + 1])
        ),
        None,
    )
    if misplaced is None:
        return
    if given != sys.argv[1:]:
        raise pytest.UsageError(
            f"write {misplaced}=VALUE (with '='): pytest takes a separate VALUE that names "
            "a path for a test path before this plugin is loaded"
        )
    if addopts:
        os.environ["PYTEST_ADDOPTS"] = shlex.join(joined(shlex.split(addopts)))
    prefix = sys.orig_argv[: len(sys.orig_argv) - len(given)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [*prefix, *joined(given)])


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """On the controller: the invocation arguments (and PYTEST_ADDOPTS) xdist's workers will
    start with, with every `--option VALUE` pair joined."""
    if hasattr(config, "workerinput"):
        return
    params = config.invocation_params
    if split_value_indexes(params.args):
        config.invocation_params = dataclasses.replace(params, args=tuple(joined(params.args)))
    addopts = shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    if split_value_indexes(addopts):
        os.environ["PYTEST_ADDOPTS"] = shlex.join(joined(addopts))
