"""The `parse` verb: one DAG file through Airflow's own DagBag, into the parse result."""
from __future__ import annotations

import importlib.machinery
import json
import os
import platform
import sys
import threading
import time
import traceback
import warnings

from . import RESULT_FORMAT
from .errors import exception_message, import_error_from_exception, user_frame_of_stack
from .isolate import START, _write_all, run_isolated
from .paths import UserFiles

MAX_WARNINGS = 200


def _base_result(file: str, folder: str, airflow_version: str | None) -> dict:
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


class _FileHooks:
    """Wraps the loader that executes the DAG file: we keep its exception (full traceback,
    Airflow keeps 2 frames) and every warning it raises, located at the user's line."""

    def __init__(self, user: UserFiles):
        self.user = user
        self.exception: BaseException | None = None
        self.warnings: list[dict] = []
        self._seen: set = set()
        self._raw: list = []

    def _on_warning(self, message, category, filename, lineno, file=None, line=None):
        internal = not self.user.contains(filename)
        origin = None
        if internal:
            # raised inside Airflow or a library: attribute it to the user line that triggered it
            loc = user_frame_of_stack(sys._getframe(1), self.user)
            if loc:
                origin = f"{filename}:{lineno}"
                filename, lineno = loc[0], loc[1]
        key = (filename, lineno, category, str(message))
        if key in self._seen or len(self.warnings) >= MAX_WARNINGS:
            return
        self._seen.add(key)
        item = {"file": self.user.display(filename), "line": lineno, "category": category.__name__,
                "message": str(message)}
        if internal:
            # not raised by the user's code: Airflow/library noise, labelled so engines can filter it
            item["internal"] = True
            if origin:
                item["origin"] = origin
        self.warnings.append(item)
        self._raw.append((message, category, filename, lineno))

    def install(self):
        loader_cls = importlib.machinery.SourceFileLoader
        orig = loader_cls.exec_module
        hooks = self

        def exec_module(loader, module):
            if os.path.realpath(getattr(loader, "path", "")) != hooks.user.dag_file:
                return orig(loader, module)
            hooks._raw = []
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("always")
                    warnings.showwarning = hooks._on_warning
                    orig(loader, module)
            except BaseException as exc:
                hooks.exception = exc
                raise
            finally:
                # hand them on to Airflow's own warning capture, as if we were not here
                for message, category, filename, lineno in hooks._raw:
                    try:
                        warnings.warn_explicit(message, category, filename, lineno)
                    except Exception:
                        pass

        self._undo = (loader_cls, orig)
        loader_cls.exec_module = exec_module

    def uninstall(self):
        loader_cls, orig = self._undo
        loader_cls.exec_module = orig


def _airflow_error_file(key: str, folder: str) -> str:
    return os.path.abspath(key if os.path.isabs(key) else os.path.join(folder, key))


def parse_in_process(file: str, folder: str, on_start=None) -> dict:
    """Parse in THIS process (a forked child). Imports Airflow if not yet imported."""
    started = time.monotonic()
    file = os.path.abspath(file)
    folder = os.path.abspath(folder)
    user = UserFiles(file, folder)

    from . import compat
    from .lines import CreationLines

    compat.use_dags_folder(folder)
    result = _base_result(file, folder, compat.VERSION)
    lines = CreationLines(user)
    lines.install(compat.dag_class(), compat.operator_partial_class())
    hooks = _FileHooks(user)
    hooks.install()

    if on_start is not None:
        on_start()  # Airflow is imported: from here on the clock is the DAG file's
    try:
        bag = compat.load_file(file, folder)
    finally:
        # the lookups below need only what the hooks recorded; a process that goes on (serve's
        # warm-up) must not keep them
        hooks.uninstall()
        lines.uninstall()

    # -- DAGs and tasks ---------------------------------------------------------------------
    failed_dag_errors = []
    for dag in bag.dags.values():
        dag_file, dag_line = lines.dag_location(dag)
        entry = {
            "dagId": dag.dag_id,
            "file": user.display(dag_file or dag.fileloc or file),
            "line": dag_line,
            "schedule": compat.schedule_of(dag),
            "tags": sorted(str(t) for t in (getattr(dag, "tags", None) or [])),
            "owner": getattr(dag, "owner", None),
            "tasks": [],
        }
        for task in dag.tasks:
            task_file, task_line = lines.task_location(task)
            entry["tasks"].append({
                "taskId": task.task_id,
                "operator": getattr(task, "task_type", type(task).__name__),
                "operatorName": getattr(task, "operator_name", None),
                "file": user.display(task_file) if task_file else None,
                "line": task_line,
                "upstream": sorted(task.upstream_task_ids),
                "downstream": sorted(task.downstream_task_ids),
                "taskGroup": compat.task_group_id(task),
                "mapped": compat.is_mapped(task),
            })
        entry["tasks"].sort(key=lambda t: (t["line"] or 0, t["taskId"]))
        try:
            entry["serialized"] = json.loads(json.dumps(compat.serialize(dag), default=str))
        except Exception as exc:
            # as Airflow's DAG processor does: a DAG that does not serialize is an import error
            failed_dag_errors.append({
                "file": entry["file"], "line": dag_line or 1, "column": 1,
                "message": exception_message(exc),
                "traceback": traceback.format_exc(),
            })
            continue
        result["dags"].append(entry)
    result["dags"].sort(key=lambda d: (d["file"], d["line"] or 0, d["dagId"]))

    # -- import errors ----------------------------------------------------------------------
    errors = []
    for key, text in bag.import_errors.items():
        err_file = _airflow_error_file(key, folder)
        if hooks.exception is not None and os.path.realpath(err_file) == user.dag_file:
            errors.append(import_error_from_exception(hooks.exception, user, file))
            continue
        # a DAG-level error without traceback (cycle, policy, ...): point at that DAG's line
        errors.append(_dag_level_error(text, err_file, bag, lines, user))
    if hooks.exception is not None and not errors:
        errors.append(import_error_from_exception(hooks.exception, user, file))
    errors.extend(failed_dag_errors)
    result["importErrors"] = errors
    result["warnings"] = hooks.warnings
    result["durationMs"] = int((time.monotonic() - started) * 1000)
    return result


def _dag_level_error(text: str, err_file: str, bag, lines, user: UserFiles) -> dict:
    bagged = set(bag.dags)
    candidates = [(d, f, ln) for d, f, ln in lines.dags.values()
                  if d.dag_id not in bagged and f and os.path.realpath(f) == os.path.realpath(err_file)]
    # prefer the DAG the message names; else the first DAG of the file that did not make it
    named = [c for c in candidates if f"'{c[0].dag_id}'" in text or f" {c[0].dag_id}" in text
             or f"{c[0].dag_id}." in text]
    pick = (named or sorted(candidates, key=lambda c: c[2] or 0) or [None])[0]
    first_line = text.strip().splitlines()[-1] if text.strip() else text
    return {
        "file": user.display(pick[1] if pick else err_file),
        "line": (pick[2] if pick else None) or 1,
        "column": 1,
        "message": first_line,
        "traceback": text,
    }


# -- child job with a watchdog ---------------------------------------------------------------
def _timed_out_result(file: str, folder: str, timeout, frame, version) -> dict:
    user = UserFiles(file, folder)
    result = _base_result(file, folder, version)
    result["timedOut"] = True
    loc = user_frame_of_stack(frame, user) if frame is not None else None
    stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
    where = f" (it was running line {loc[1]} of {os.path.basename(loc[0])})" if loc else ""
    result["importErrors"] = [{
        "file": user.display(loc[0]) if loc else os.path.abspath(file),
        "line": loc[1] if loc else 1,
        "column": loc[2] if loc else 1,
        "message": f"TimeoutError: parsing did not finish within {timeout:g}s{where}",
        "traceback": "Stack of the parsing thread when it was stopped:\n" + stack,
    }]
    result["durationMs"] = int(timeout * 1000)
    return result


def parse_job(result_fd: int, request: dict, timeout):
    """The child's side of a parse: request = {"file", "folder"}; returns the result's JSON bytes.
    A watchdog thread answers for it if the file is still running when its budget is spent."""
    file, folder = request["file"], request["folder"]
    lock = threading.Lock()
    main_id = threading.get_ident()

    def on_start():
        _write_all(result_fd, START)
        if timeout is not None:
            threading.Thread(target=watchdog, daemon=True, name="harness-watchdog").start()

    def watchdog():
        time.sleep(timeout)
        if not lock.acquire(blocking=False):
            return  # the result is being sent right now
        frame = sys._current_frames().get(main_id)
        version = sys.modules["airflow"].__version__ if "airflow" in sys.modules else None
        data = json.dumps(_timed_out_result(file, folder, timeout, frame, version)).encode()
        _write_all(result_fd, data)
        os._exit(3)

    try:
        result = parse_in_process(file, folder, on_start)
    except BaseException as exc:  # a harness/Airflow failure, not the DAG's
        result = {"harnessError": exception_message(exc), "traceback": traceback.format_exc()}
    data = json.dumps(result, default=str).encode()
    if not lock.acquire(blocking=False):
        time.sleep(3600)  # the watchdog is writing the timeout result and will exit us
    sys.stdout.flush()
    sys.stderr.flush()
    return data


def result_of(outcome, file: str, folder: str, timeout: float | None, version: str | None, started: float) -> dict:
    """The final result from a child's Outcome: its own result plus output, or a timeout we imposed."""
    result = None
    if outcome.result:
        try:
            result = json.loads(outcome.result)
        except ValueError:
            result = None
    if result is None:
        if outcome.killed:
            # not even the watchdog thread could run: native code holding the GIL
            result = _timed_out_result(file, folder, timeout, None, version)
            result["importErrors"][0]["message"] += " (stuck in native code; killed)"
        else:
            result = {"harnessError": f"parse child ended without a result (wait status {outcome.status})"}
    result["output"] = outcome.output
    if "harnessError" not in result and not result.get("timedOut"):
        result["durationMs"] = int((time.monotonic() - started) * 1000)
    return result


def parse_isolated(file: str, folder: str, timeout: float | None, version: str | None) -> dict:
    """Parse in a forked child and assemble the final result (output, timeout)."""
    started = time.monotonic()
    outcome = run_isolated(parse_job, {"file": file, "folder": folder}, timeout)
    return result_of(outcome, file, folder, timeout, version, started)


def write_result(result: dict, out: str) -> None:
    """Atomic: a reader never sees half a result."""
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=str)
    os.replace(tmp, out)
