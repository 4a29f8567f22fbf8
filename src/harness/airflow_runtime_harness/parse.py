"""The `parse` verb: one DAG file through Airflow's own DagBag, into the parse result."""

from __future__ import annotations

import functools
import importlib.machinery
import json
import os
import platform
import signal
import sys
import threading
import time
import traceback
import warnings
from typing import Any

from . import RESULT_FORMAT, preimport
from .import_errors import (
    exception_message,
    import_error_from_exception,
    user_frame_of_stack,
    user_frame_of_traceback,
    without_harness_frames,
)
from .isolate import START, run_isolated, write_all
from .paths import UserFiles

compat: Any = None  # the module, once Airflow is imported (parse_in_process)

MAX_WARNINGS = 200
# What a serve child imported from the installed packages (for the server's pre-import); never in a result.
LEARNED_KEY = "_preImportLearned"


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

    def __init__(self, user: UserFiles, on_start=None):
        self.user = user
        self.on_start = on_start
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
        item = {"file": self.user.display(filename), "line": lineno, "category": category.__name__, "message": str(message)}
        if internal:
            # not raised by the user's code: Airflow/library noise, labelled so engines can filter it
            item["internal"] = True
            if origin:
                item["origin"] = origin
        self.warnings.append(item)
        self._raw.append((message, category, filename, lineno))

    def install(self):
        # Only the DAG file's own loader gets our exec_module (an attribute of that instance, set when it is made):
        # every other module loads with no frame of ours on the stack, so a warning raised with a stacklevel at
        # its import never lands on a harness line, and tracebacks go through our code once, not per import.
        loader_cls = importlib.machinery.SourceFileLoader
        orig_init = loader_cls.__init__
        orig_exec = loader_cls.exec_module
        hooks = self
        dag_name = os.path.basename(hooks.user.dag_file)

        def exec_dag_file(loader, module):
            hooks._raw = []
            if hooks.on_start is not None:
                start, hooks.on_start = hooks.on_start, None
                # the DAG file's own code runs now: from here on the clock is the file's, as Airflow's
                # dagbag_import_timeout covers the file's import (not the DagBag's set-up before it, which a
                # loaded machine can make take seconds)
                start()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("always")
                    warnings.showwarning = hooks._on_warning
                    orig_exec(loader, module)
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

        def __init__(loader, *args, **kwargs):
            orig_init(loader, *args, **kwargs)
            path = getattr(loader, "path", None) or ""
            if os.path.basename(path) == dag_name and os.path.realpath(path) == hooks.user.dag_file:
                loader.exec_module = functools.partial(exec_dag_file, loader)

        self._undo = (loader_cls, loader_cls.__dict__.get("__init__"))
        loader_cls.__init__ = __init__  # pyright: ignore[reportAttributeAccessIssue]

    def uninstall(self):
        loader_cls, old = self._undo
        if old is None:
            del loader_cls.__init__
        else:
            loader_cls.__init__ = old


def _airflow_error_file(key: str, folder: str) -> str:
    return os.path.abspath(key if os.path.isabs(key) else os.path.join(folder, key))


def parse_in_process(file: str, folder: str, on_start=None) -> dict:
    """Parse in THIS process (a forked child). Imports Airflow if not yet imported."""
    started = time.monotonic()
    file = os.path.abspath(file)
    folder = os.path.abspath(folder)
    user = UserFiles(file, folder)

    global compat
    from . import compat
    from .lines import CreationLines

    compat.use_dags_folder(folder)
    result = _base_result(file, folder, compat.VERSION)
    lines = CreationLines(user)

    # Airflow 3.2+'s DAG processor checks the file's source before it parses it
    level, unstable = compat.stability_check(file)
    stability = [_stability_item(user.display(file), *found) for found in unstable]
    if level == "error" and stability:
        # as the DAG processor does at this level: the file's DAGs are not loaded at all
        result["importErrors"] = [
            {**item, "message": f"DAG stability check failed: {item['message']}", "traceback": ""} for item in stability
        ]
        result["durationMs"] = int((time.monotonic() - started) * 1000)
        return result

    lines.install(compat.dag_class(), compat.operator_partial_class(), compat.dag_node_class())
    hooks = _FileHooks(user, on_start)
    hooks.install()
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
            task_file, task_line, definition_file, definition_line = lines.task_location(task, dag_file)
            entry["tasks"].append(
                {
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
            )
        entry["tasks"].sort(key=lambda t: (t["line"] or 0, t["taskId"]))
        try:
            entry["serialized"] = json.loads(json.dumps(compat.serialize(dag), default=str))
        except Exception as exc:
            # as Airflow's DAG processor does: a DAG that does not serialize is an import error, here at
            # the task the serializer rejects when one does, with the DAG as the related place
            error = {
                "file": entry["file"],
                "line": dag_line or 1,
                "column": 1,
                "message": exception_message(exc),
                "traceback": traceback.format_exc(),
            }
            culprit = _unserializable_task(dag, entry["tasks"])
            argument = (
                _rejected_argument(exc, entry["file"], dag_line, lines.rejected_argument(dag, exc), user)
                if culprit is None
                else None
            )
            if argument is not None:
                error.update(
                    file=user.display(argument[0]),
                    line=argument[1],
                    column=argument[2],
                    related=[_dag_related(dag.dag_id, entry["file"], dag_line)],
                )
            if culprit is not None:
                task, why = culprit
                error.update(
                    file=task["file"] or entry["file"],
                    line=task["line"] or dag_line or 1,
                    message=f"{exception_message(exc)} (task '{task['taskId']}': {why})",
                    related=[_dag_related(dag.dag_id, entry["file"], dag_line)],
                )
            failed_dag_errors.append(error)
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
    result["importErrors"] = _without_harness_frames(errors)
    result["warnings"] = stability + hooks.warnings
    result["durationMs"] = int((time.monotonic() - started) * 1000)
    return result


def _dag_level_error(text: str, err_file: str, bag, lines, user: UserFiles) -> dict:
    bagged = set(bag.dags)
    candidates = [
        (d, f, ln)
        for d, f, ln in lines.dags.values()
        if d.dag_id not in bagged and f and os.path.realpath(f) == os.path.realpath(err_file)
    ]
    # prefer the DAG the message names; else the first DAG of the file that did not make it
    named = [c for c in candidates if f"'{c[0].dag_id}'" in text or f" {c[0].dag_id}" in text or f"{c[0].dag_id}." in text]
    pick = (named or sorted(candidates, key=lambda c: c[2] or 0) or [None])[0]
    first_line = text.strip().splitlines()[-1] if text.strip() else text
    error = {
        "file": user.display(pick[1] if pick else err_file),
        "line": (pick[2] if pick else None) or 1,
        "column": 1,
        "message": first_line,
        "traceback": text,
    }
    edge = _closing_edge(pick[0], lines) if pick and "cycle" in text.lower() else None
    if edge is not None and pick:
        (up, down), (edge_file, edge_line, _) = edge
        error.update(
            file=user.display(edge_file),
            line=edge_line,
            message=f"{first_line} (the edge {up} >> {down} closes the cycle)",
            related=[_dag_related(pick[0].dag_id, user.display(pick[1]), pick[2])],
        )
    return error


def _dag_related(dag_id: str, file: str, line) -> dict:
    return {"file": file, "line": line or 1, "message": f"DAG '{dag_id}' is created here"}


def _closing_edge(dag, lines):
    """The edge of a cycle that was made last (the one that closed it), with where it was made."""
    graph = {tid: sorted(getattr(t, "downstream_task_ids", ())) for tid, t in getattr(dag, "task_dict", {}).items()}
    state: dict = {}
    path: list = []

    def visit(node):  # iterative enough for DAG sizes; returns the cycle as a list of nodes
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in graph:
        if start in state:
            continue
        cycle = visit(start)
        if cycle:
            edges = [(cycle[i], cycle[i + 1]) for i in range(len(cycle) - 1)]
            located = [(e, lines.edge_location(*e)) for e in edges if lines.edge_location(*e) and lines.edge_location(*e)[0]]
            return max(located, key=lambda item: item[1][2]) if located else None
    return None


# What a serializer's message names -> the DAG arguments that give it
_ARGUMENTS_BY_WORD = {
    "timetable": ("schedule", "timetable", "schedule_interval"),
    "param": ("params",),
    "default_args": ("default_args",),
    "callback": ("on_success_callback", "on_failure_callback"),
}


def _rejected_argument(exc: BaseException, file: str, dag_line, name, user: UserFiles):
    """(file, line, column) of the DAG argument the serializer rejected. Which argument: the one whose value the
    serializer was working on when it failed (`name`, found from the live objects), else the one its message names.
    Where: that argument in the call made at the DAG's line (the call's own syntax tree, not a text search); else
    the deepest frame of the user's that ran while serializing (their timetable's or trigger's own code)."""
    names = {name} if name else {n for w in _ARGUMENTS_BY_WORD if w in str(exc).lower() for n in _ARGUMENTS_BY_WORD[w]}
    found = _argument_in_call(file, dag_line, names) if names and dag_line else None
    if found is not None:
        return (file, *found)
    chained, seen = exc, set()
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        loc = user_frame_of_traceback(chained.__traceback__, user)
        if loc is not None:
            return loc
        chained = chained.__cause__ or chained.__context__
    return None


def _argument_in_call(file: str, dag_line: int, names: set):
    """(line, column) of the first of these keyword arguments in the call that spans the DAG's line."""
    import ast

    try:
        with open(file, "rb") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno <= dag_line <= (node.end_lineno or node.lineno):
            for keyword in node.keywords:
                if keyword.arg in names:
                    return keyword.value.lineno, keyword.value.col_offset + 1
    return None


def _without_harness_frames(errors: list) -> list:
    for error in errors:
        if error.get("traceback"):
            error["traceback"] = without_harness_frames(error["traceback"])
    return errors


def _unserializable_task(dag, tasks: list):
    """The first task (in file order) that Airflow's serializer rejects on its own, and why."""
    by_id = {t["taskId"]: t for t in tasks}
    for task_id in [t["taskId"] for t in tasks]:
        try:
            compat.serialize_task(dag.get_task(task_id))
        except Exception as exc:
            return by_id[task_id], exception_message(exc)
    return None


def _stability_item(file: str, line: int, col: int, code: str, message: str) -> dict:
    return {
        "file": file,
        "line": line,
        "column": (col or 0) + 1,
        "category": "RuntimeVaryingValueWarning",
        "message": f"{message} ({code}): the DAG changes on every parse, so Airflow makes a new DAG version each time",
    }


# -- child job with a watchdog ---------------------------------------------------------------
def _timed_out_result(file: str, folder: str, timeout, frame, version) -> dict:
    user = UserFiles(file, folder)
    result = _base_result(file, folder, version)
    result["timedOut"] = True
    loc = user_frame_of_stack(frame, user) if frame is not None else None
    stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
    where = f" (it was running line {loc[1]} of {os.path.basename(loc[0])})" if loc else ""
    result["importErrors"] = [
        {
            "file": user.display(loc[0]) if loc else os.path.abspath(file),
            "line": loc[1] if loc else 1,
            "column": loc[2] if loc else 1,
            "message": f"TimeoutError: parsing did not finish within {timeout:g}s{where}",
            "traceback": "Stack of the parsing thread when it was stopped:\n" + stack,
        }
    ]
    result["durationMs"] = int(timeout * 1000)
    return result


def _how_it_ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        try:
            return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        except ValueError:
            return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"


def _ended_result(file: str, folder: str, frame, version, how) -> dict:
    """The DAG file's code ended the process (os._exit) at import: Airflow's processor would lose the
    file the same way; we say so at the line that did it."""
    user = UserFiles(file, folder)
    result = _base_result(file, folder, version)
    loc = user_frame_of_stack(frame, user) if frame is not None else None
    result["importErrors"] = [
        {
            "file": user.display(loc[0]) if loc else os.path.abspath(file),
            "line": loc[1] if loc else 1,
            "column": loc[2] if loc else 1,
            "message": f"SystemExit: the DAG file's code ended the parsing process ({how}) while it was imported; "
            "Airflow's DAG processor would lose this file the same way",
            "traceback": "".join(traceback.format_stack(frame)) if frame is not None else "",
        }
    ]
    return result


def parse_job(result_fd: int, request: dict, timeout):
    """The child's side of a parse: request = {"file", "folder"}; returns the result's JSON bytes.
    A watchdog thread answers for it if the file is still running when its budget is spent."""
    file, folder = request["file"], request["folder"]
    lock = threading.Lock()
    main_id = threading.get_ident()

    real_exit = os._exit

    def on_start():
        write_all(result_fd, START)
        os._exit = guarded_exit
        if timeout is not None:
            threading.Thread(target=watchdog, daemon=True, name="harness-watchdog").start()

    me = os.getpid()

    def guarded_exit(status=0):
        # os._exit skips every handler: without this the parse would end with no result and no reason.
        # Only this process's: a child the DAG forks inherits the patch, and its exit is its own business.
        if os.getpid() == me and lock.acquire(blocking=False):
            version = sys.modules["airflow"].__version__ if "airflow" in sys.modules else None
            write_all(
                result_fd,
                json.dumps(_ended_result(file, folder, sys._getframe(1), version, f"os._exit({status})")).encode() + b"\n",
            )
        real_exit(status)

    def watchdog():
        time.sleep(timeout)
        if not lock.acquire(blocking=False):
            return  # the result is being sent right now
        frame = sys._current_frames().get(main_id)
        version = sys.modules["airflow"].__version__ if "airflow" in sys.modules else None
        data = json.dumps(_timed_out_result(file, folder, timeout, frame, version)).encode()
        write_all(result_fd, data)
        real_exit(3)

    before = set(sys.modules) if preimport.LEARN else None
    try:
        result = parse_in_process(file, folder, on_start)
        if before is not None:
            result[LEARNED_KEY] = preimport.imported_since(before)
    except BaseException as exc:  # a harness/Airflow failure, not the DAG's
        result = {"harnessError": exception_message(exc), "traceback": traceback.format_exc()}
    finally:
        os._exit = real_exit
    data = json.dumps(result, default=str).encode()
    if not lock.acquire(blocking=False):
        time.sleep(3600)  # the watchdog is writing the timeout result and will exit us
    sys.stdout.flush()
    sys.stderr.flush()
    return data


def result_of(
    outcome, file: str, folder: str, timeout: float | None, version: str | None, started: float, learned: list | None = None
) -> dict:
    """The final result from a child's Outcome: its own result plus output, or a timeout we imposed. What the
    child imported from the installed packages goes to `learned`, never into the result."""
    result: Any = None
    if outcome.result:
        try:
            result = json.loads(outcome.result)
        except ValueError:
            result = None
    imported = result.pop(LEARNED_KEY, None) if isinstance(result, dict) else None
    if learned is not None and isinstance(imported, list):
        learned.extend(str(name) for name in imported)
    if result is None:
        if outcome.killed and not outcome.started:
            # never got to the DAG file: the runtime (importing Airflow) is what was slow
            waited = time.monotonic() - started
            result = {
                "harnessError": f"the runtime did not start within {waited:.0f}s (importing Airflow took longer)",
                "code": "start-timeout",
            }
        elif outcome.killed:
            # not even the watchdog thread could run: native code holding the GIL
            result = _timed_out_result(file, folder, timeout, None, version)
            result["importErrors"][0]["message"] += " (stuck in native code; killed)"
        elif outcome.started and outcome.status is not None:
            # the DAG file's own code ended the process (a signal to itself, os._exit in native code)
            result = _ended_result(file, folder, None, version, _how_it_ended(outcome.status))
        else:
            result = {"harnessError": f"parse child ended without a result (wait status {outcome.status})"}
    result["output"] = outcome.output
    _without_harness_frames(result.get("importErrors") or [])
    if "harnessError" not in result and not result.get("timedOut"):
        result["durationMs"] = int((time.monotonic() - started) * 1000)
    return result


def parse_isolated(
    file: str, folder: str, timeout: float | None, version: str | None, start_timeout: float | None = None
) -> dict:
    """Parse in a forked child and assemble the final result (output, timeout). The engine is told
    when the file starts running (an event on stderr), so its own deadline can start there too."""
    from .env import emit_event

    started = time.monotonic()
    outcome = run_isolated(
        parse_job, {"file": file, "folder": folder}, timeout, start_timeout, on_start=lambda: emit_event("started")
    )
    return result_of(outcome, file, folder, timeout, version, started)


def write_result(result: dict, out: str) -> None:
    """Atomic: a reader never sees half a result."""
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=str)
    os.replace(tmp, out)
