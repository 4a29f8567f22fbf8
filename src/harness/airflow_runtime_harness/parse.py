"""One DAG file through Airflow's own DagBag, into the parse result.

Shaped as Airflow 3's DAG processor parses a file (dag_processing/processor.py, `_parse_file` and `_serialize_dags`):
the stability check, whose "error" level loads nothing; the file loaded into a DagBag; each DAG serialized, one that
the serializer rejects becoming an import error; the bag's import errors. Ours also say where each DAG and task was
made (lines.py) and put each import error at its line (import_errors.py). It runs in a forked child (parse_child.py),
and in this process for serve's warm-up and under a debugger.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from typing import TYPE_CHECKING, Any, NamedTuple

from .file_hooks import FileHooks
from .import_errors import (
    dag_level_error,
    drop_harness_frames,
    import_error_from_exception,
    stability_errors,
    stability_item,
    unserializable_dag_error,
)
from .paths import UserFiles
from .result import Dag, DagImportError, ParseResult, Task, base_result

if TYPE_CHECKING:
    from .lines import CreationLines


class _Loaded(NamedTuple):
    """A DAG file loaded into Airflow's DagBag, with what our hooks saw while it ran."""

    bag: Any
    lines: CreationLines
    hooks: FileHooks


def parse_in_process(file: str, folder: str, on_start=None) -> ParseResult:
    """Parse in THIS process (a forked child). Imports Airflow if not yet imported."""
    started = time.monotonic()
    file = os.path.abspath(file)
    folder = os.path.abspath(folder)
    user = UserFiles(file, folder)
    from . import compat

    compat.use_dags_folder(folder)
    result = base_result(file, folder, compat.VERSION)
    # Airflow 3.2+'s DAG processor checks the file's source before it parses it
    level, unstable = compat.stability_check(file)
    stability = [stability_item(user.display(file), *found) for found in unstable]
    if level == "error" and stability:
        # as the DAG processor does at this level: the file's DAGs are not loaded at all
        result["importErrors"] = stability_errors(stability)
    else:
        loaded = _load(compat, file, folder, user, on_start)
        result["dags"], unserializable = _dag_entries(compat, loaded, file, user)
        result["importErrors"] = _import_errors(loaded, file, folder, user, unserializable)
        result["warnings"] = stability + loaded.hooks.warnings
    result["durationMs"] = int((time.monotonic() - started) * 1000)
    return result


def _load(compat, file: str, folder: str, user: UserFiles, on_start) -> _Loaded:
    """The file through Airflow's DagBag, our hooks on while it runs: where each DAG, task and edge is made, and the
    file's own exception and warnings."""
    from .lines import CreationLines

    lines = CreationLines(user)
    lines.install(compat.dag_class(), compat.operator_partial_class(), compat.dag_node_class())
    hooks = FileHooks(user, on_start)
    hooks.install()
    try:
        bag = compat.load_file(file, folder)
    finally:
        # the lookups below need only what the hooks recorded; a process that goes on (serve's
        # warm-up) must not keep them
        hooks.uninstall()
        lines.uninstall()
    return _Loaded(bag, lines, hooks)


def _dag_entries(compat, loaded: _Loaded, file: str, user: UserFiles) -> tuple[list[Dag], list[DagImportError]]:
    """Each DAG of the bag with its tasks and Airflow's serialized form, and the import errors of those its serializer
    rejects: as Airflow's DAG processor does, such a DAG is left out."""
    dags: list[Dag] = []
    unserializable: list[DagImportError] = []
    for dag in loaded.bag.dags.values():
        entry = _dag_entry(compat, dag, loaded.lines, file, user)
        try:
            entry["serialized"] = json.loads(json.dumps(compat.serialize(dag), default=str))
        except Exception as exc:
            error = unserializable_dag_error(exc, traceback.format_exc(), dag, entry, loaded.lines, user, compat.serialize_task)
            unserializable.append(error)
            continue
        dags.append(entry)
    dags.sort(key=lambda d: (d["file"], d["line"] or 0, d["dagId"]))
    return dags, unserializable


def _dag_entry(compat, dag, lines: CreationLines, file: str, user: UserFiles) -> Dag:
    dag_file, dag_line = lines.dag_location(dag)
    entry: Dag = {
        "dagId": dag.dag_id,
        "file": user.display(dag_file or dag.fileloc or file),
        "line": dag_line,
        "schedule": compat.schedule_of(dag),
        "tags": sorted(str(t) for t in (getattr(dag, "tags", None) or [])),
        "owner": getattr(dag, "owner", None),
        "tasks": [],
    }
    tasks = [_task_entry(compat, task, lines, dag_file, user) for task in dag.tasks]
    entry["tasks"] = sorted(tasks, key=lambda t: (t["line"] or 0, t["taskId"]))
    return entry


def _task_entry(compat, task, lines: CreationLines, dag_file: str | None, user: UserFiles) -> Task:
    task_file, task_line, definition_file, definition_line = lines.task_location(task, dag_file)
    return {
        "taskId": task.task_id,
        "operator": getattr(task, "task_type", type(task).__name__),
        "operatorName": getattr(task, "operator_name", None),
        "file": user.display(task_file) if task_file else None,
        "line": task_line,
        "definitionLine": definition_line,
        "definitionFile": user.display(definition_file) if definition_file else None,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
        "taskGroup": compat.task_group_id(task),
        "mapped": compat.is_mapped(task),
        "mapCount": compat.parse_time_map_count(task) if compat.is_mapped(task) else None,
    }


def _import_errors(
    loaded: _Loaded, file: str, folder: str, user: UserFiles, unserializable: list[DagImportError]
) -> list[DagImportError]:
    """The bag's import errors, each at its line: the file's own exception as our hooks kept it (the whole traceback),
    an error Airflow reports without a traceback (a cycle, a policy) at its DAG; then the DAGs the serializer
    rejected."""
    exception = loaded.hooks.exception
    errors: list[DagImportError] = []
    for key, text in loaded.bag.import_errors.items():
        err_file = _airflow_error_file(key, folder)
        if exception is not None and os.path.realpath(err_file) == user.dag_file:
            errors.append(import_error_from_exception(exception, user, file))
        else:
            errors.append(dag_level_error(text, err_file, loaded.bag, loaded.lines, user))
    if exception is not None and not errors:
        errors.append(import_error_from_exception(exception, user, file))
    errors.extend(unserializable)
    return drop_harness_frames(errors)


def _airflow_error_file(key: str, folder: str) -> str:
    return os.path.abspath(key if os.path.isabs(key) else os.path.join(folder, key))
