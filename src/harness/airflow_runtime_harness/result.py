"""The parse result's shape, its empty form, and writing it.

The TypedDicts mirror media/parse-result.schema.json, the result's contract (docs/contracts.md, "Parse result"),
field for field. Where the schema lets a reader do without a field that the harness always writes (`dagsFolder`,
`timedOut`, `output`, a task's `file` and definition, `owner`, `mapCount`, ...), the harness's type requires it: every
result it writes is valid against the schema all the same. `hint` and `engine` are added on the host, never here.
"""

from __future__ import annotations

import json
import os
import platform
from typing import Any, TypedDict

from . import RESULT_FORMAT


class Output(TypedDict):
    """What the DAG file printed: the byte count and the last part."""

    bytes: int
    truncated: bool
    tail: str


class Task(TypedDict):
    taskId: str
    operator: str  # Airflow's task_type
    operatorName: str | None
    file: str | None  # the file whose code created the task (the DAG file or a helper module)
    line: int | None
    definitionLine: int | None  # a @task function's definition, when `line` is its call in the DAG's file
    definitionFile: str | None
    upstream: list[str]
    downstream: list[str]
    taskGroup: str | None
    mapped: bool
    mapCount: int | None  # a mapped task over literal lists: how many map indexes; None when an upstream decides


class _DagFields(TypedDict):
    dagId: str
    file: str
    line: int | None
    schedule: str | None
    tags: list[str]
    owner: str | None
    tasks: list[Task]


class Dag(_DagFields, total=False):
    serialized: dict[str, Any]  # Airflow's own serialized DAG; every DAG in a result has it


class Related(TypedDict):
    file: str
    line: int
    message: str


class _DagImportErrorFields(TypedDict):
    file: str
    line: int | None
    column: int | None
    message: str


class DagImportError(_DagImportErrorFields, total=False):
    traceback: str  # Python's, without the harness's own frames
    related: list[Related]
    hint: str  # added by the CLI


class _ParseWarningFields(TypedDict):
    file: str
    line: int | None
    category: str
    message: str


class ParseWarning(_ParseWarningFields, total=False):
    column: int
    internal: bool  # raised inside Airflow or a library: located at the user's line that triggered it
    origin: str  # "file:line" where it was really raised, for an internal one


class Engine(TypedDict):
    kind: str
    detail: str
    totalMs: float


class _ParseResultFields(TypedDict):
    format: str
    file: str
    dagsFolder: str
    airflowVersion: str | None  # None only where Airflow was never imported, which no result written reaches
    pythonVersion: str
    durationMs: int
    dags: list[Dag]
    importErrors: list[DagImportError]
    warnings: list[ParseWarning]
    timedOut: bool
    output: Output


class ParseResult(_ParseResultFields, total=False):
    engine: Engine  # added by the engine


class _HarnessFailureFields(TypedDict):
    harnessError: str


class HarnessFailure(_HarnessFailureFields, total=False):
    """Not a parse result: the harness or Airflow failed (not the DAG file). The verbs turn it into exit 2 or a
    failed `serve` reply; it is never written as a result."""

    traceback: str
    code: str  # for the engine; absent: harness-failed
    output: Output


def base_result(file: str, folder: str, airflow_version: str | None) -> ParseResult:
    """The result of a DAG file that has not run yet: no DAGs, no errors, nothing printed."""
    return {
        "format": RESULT_FORMAT,
        "file": os.path.abspath(file),
        "dagsFolder": os.path.abspath(folder),
        "airflowVersion": airflow_version,
        "pythonVersion": platform.python_version(),
        "durationMs": 0,
        "dags": [],
        "importErrors": [],
        "warnings": [],
        "timedOut": False,
        "output": {"bytes": 0, "truncated": False, "tail": ""},
    }


def write_result(result: ParseResult, out: str) -> None:
    """Atomic: a reader never sees half a result."""
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=str)
    os.replace(tmp, out)
