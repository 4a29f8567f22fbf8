"""Warm-up for `serve`: parse the harness's own DAG file in the server before it forks.

A first parse in a process pays for lazy work that later parses reuse: imports done inside
functions (the serializer's JSON schema and jsonschema, template machinery), caches filled on first
use. Done in every forked child, that was most of a warm parse (about 60 of 75 ms). Done once in
the server, every child inherits it. The file is ours (warmup_dags/), so no user code runs in the
server; its module and its folder on sys.path are removed afterwards.

`gc.freeze()` then moves everything the server holds out of the collector's reach, so a collection
in a child does not touch (and copy) the pages of the server's objects.
"""

from __future__ import annotations

import gc
import os
import sys

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "warmup_dags")
FILE = os.path.join(FOLDER, "harness_warmup.py")


def parse_own_dag() -> None:
    """One full parse of our DAG file in this process, leaving no module or sys.path entry behind."""
    from .parse import parse_in_process

    path = list(sys.path)
    try:
        result = parse_in_process(FILE, FOLDER)
        if result["importErrors"]:
            raise RuntimeError(result["importErrors"][0]["message"])
    finally:
        sys.path[:] = path
        for name, module in list(sys.modules.items()):
            if getattr(module, "__file__", None) == FILE:
                del sys.modules[name]


def warm_server() -> str | None:
    """In the server, before the first fork. Returns why it failed, or None (a failed warm-up only
    costs speed: every child then does the lazy work itself, as before)."""
    problem = None
    try:
        parse_own_dag()
    except Exception as exc:  # a runtime we do not know well: serve anyway
        problem = f"{type(exc).__name__}: {exc}"
    gc.collect()
    gc.freeze()
    return problem
