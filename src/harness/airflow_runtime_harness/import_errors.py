"""A DAG file's import errors, each at the line its author looks at.

An exception at the deepest user frame (the DAG file or a helper it imports); an error Airflow reports without a
traceback (a cycle, a policy) at the DAG that failed, a cycle at the edge that closed it; a DAG its serializer rejects
at the task or DAG argument it rejected; a stability check's findings. Tracebacks without the harness's own frames.
"""

from __future__ import annotations

import ast
import io
import linecache
import os
import re
import sys
import traceback
from typing import Callable

from .paths import UserFiles
from .result import DagImportError, ParseWarning, Related, Task


def _column(code, lasti: int, filename: str, lineno: int) -> int:
    """1-based column of the instruction that was running (Python 3.11+ keeps positions)."""
    positions = getattr(code, "co_positions", None)
    if positions is None or lasti < 0:
        return 1
    try:
        pos = list(positions())[lasti // 2]
    except Exception:
        return 1
    start_line, col = pos[0], pos[2]
    if col is None or start_line != lineno:
        return 1
    # co_positions counts UTF-8 bytes; editors count characters
    text = linecache.getline(filename, lineno)
    return len(text.encode("utf-8")[:col].decode("utf-8", "ignore")) + 1


def user_frame_of_traceback(tb, user: UserFiles):
    """(file, line, column) of the deepest traceback entry in user code, or None."""
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if user.contains(code.co_filename):
            found = (code.co_filename, tb.tb_lineno, _column(code, tb.tb_lasti, code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return found


def user_frame_of_stack(frame, user: UserFiles):
    """(file, line, column) of the innermost user frame of a live stack (used on timeout)."""
    while frame is not None:
        code = frame.f_code
        if user.contains(code.co_filename):
            return code.co_filename, frame.f_lineno, _column(code, frame.f_lasti, code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def dag_file_frame_of_traceback(exc: BaseException, user: UserFiles):
    """(line, column) of the deepest frame in the DAG file itself, through chained exceptions: where the DAG
    file reached the helper module that failed (its import line), or None."""
    seen = set()
    chained = exc
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        found = None
        tb = chained.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if user.is_dag_file(code.co_filename):
                found = (tb.tb_lineno, _column(code, tb.tb_lasti, code.co_filename, tb.tb_lineno))
            tb = tb.tb_next
        if found:
            return found
        chained = chained.__cause__ or chained.__context__
    return None


# A frame of the harness in a formatted traceback: how the file was run, not where it failed.
_HARNESS_FRAME = re.compile(r'^\s*File "[^"]*[/\\]airflow_runtime_harness[/\\][^"]*", line \d+')
_FRAME = re.compile(r'^\s*File "[^"]*", line \d+')


def without_harness_frames(text: str) -> str:
    """A formatted traceback without the harness's own frames (each a `File` line, its source and carets)."""
    if not text or "airflow_runtime_harness" not in text:
        return text
    out = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if _HARNESS_FRAME.match(lines[i]):
            i += 1
            while i < len(lines) and lines[i].startswith("    ") and not _FRAME.match(lines[i]):
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def hide_harness_frames() -> None:
    """Every traceback this process formats (Airflow's "Failed to import" log line, a task's exception, structlog's
    and logging's alike: both go through traceback's functions) leaves out the harness's frames: what a verb prints
    is the user's, Airflow's and the libraries' code, never how we ran it."""
    if getattr(traceback.print_exception, "_without_harness_frames", False):
        return
    print_exception, format_exception = traceback.print_exception, traceback.format_exception

    def print_without(*args, **kwargs):
        args = list(args)
        if len(args) > 5:
            kwargs["chain"] = args.pop(5)
        file = args.pop(4) if len(args) > 4 else kwargs.pop("file", None)
        buffer = io.StringIO()
        print_exception(*args, file=buffer, **kwargs)
        (file if file is not None else sys.stderr).write(without_harness_frames(buffer.getvalue()))

    def format_without(*args, **kwargs):
        return without_harness_frames("".join(format_exception(*args, **kwargs))).splitlines(keepends=True)

    print_without._without_harness_frames = True  # type: ignore[attr-defined]
    traceback.print_exception = print_without  # type: ignore[assignment]
    traceback.format_exception = format_without  # type: ignore[assignment]


def exception_message(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def import_error_from_exception(exc: BaseException, user: UserFiles, fallback_file: str) -> DagImportError:
    loc = None
    if isinstance(exc, SyntaxError) and exc.filename is not None and user.contains(exc.filename):
        # the parser's own position: line and (1-based) column of the offending token
        loc = (exc.filename, exc.lineno or 1, exc.offset or 1)
    seen = set()
    chained = exc
    while loc is None and chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        loc = user_frame_of_traceback(chained.__traceback__, user)
        # `raise X from e` inside library code: the user's frame may only be in the cause
        chained = chained.__cause__ or chained.__context__
    file, line, column = loc or (fallback_file, 1, 1)
    error: DagImportError = {
        "file": user.display(file),
        "line": line,
        "column": column,
        "message": exception_message(exc),
        "traceback": without_harness_frames("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))),
    }
    if not user.is_dag_file(file):
        # a helper module failed: the DAG file's own line that imported (or called) it is where its author looks
        importer = dag_file_frame_of_traceback(exc, user)
        if importer is not None:
            error["related"] = [
                {
                    "file": user.display(user.dag_file_as_run),
                    "line": importer[0],
                    "message": "the DAG file reaches the failing module here",
                }
            ]
    return error


def drop_harness_frames(errors: list[DagImportError]) -> list[DagImportError]:
    """The errors, their tracebacks without the harness's own frames (changed in place)."""
    for error in errors:
        text = error.get("traceback")
        if text:
            error["traceback"] = without_harness_frames(text)
    return errors


def dag_level_error(text: str, err_file: str, bag, lines, user: UserFiles) -> DagImportError:
    """An error Airflow reports without a traceback (a cycle, a policy): at the line of the DAG that failed, a cycle at
    the edge that closed it."""
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
    error: DagImportError = {
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


def _dag_related(dag_id: str, file: str, line) -> Related:
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


def unserializable_dag_error(
    exc: BaseException, text: str, dag, entry, lines, user: UserFiles, serialize_task: Callable
) -> DagImportError:
    """A DAG Airflow's serializer rejects (`exc`, formatted as `text`): an import error, as Airflow's DAG processor
    makes it, here at the task the serializer rejects on its own when one does (`serialize_task` is Airflow's), else
    at the DAG argument it rejected, with the DAG as the related place."""
    dag_line = entry["line"]
    error: DagImportError = {
        "file": entry["file"],
        "line": dag_line or 1,
        "column": 1,
        "message": exception_message(exc),
        "traceback": text,
    }
    culprit = _unserializable_task(dag, entry["tasks"], serialize_task)
    if culprit is not None:
        task, why = culprit
        error.update(
            file=task["file"] or entry["file"],
            line=task["line"] or dag_line or 1,
            message=f"{exception_message(exc)} (task '{task['taskId']}': {why})",
            related=[_dag_related(dag.dag_id, entry["file"], dag_line)],
        )
        return error
    argument = _rejected_argument(exc, entry["file"], dag_line, lines.rejected_argument(dag, exc), user)
    if argument is not None:
        error.update(
            file=user.display(argument[0]),
            line=argument[1],
            column=argument[2],
            related=[_dag_related(dag.dag_id, entry["file"], dag_line)],
        )
    return error


def _unserializable_task(dag, tasks: list[Task], serialize_task: Callable):
    """The first task (in file order) that Airflow's serializer rejects on its own, and why."""
    by_id = {t["taskId"]: t for t in tasks}
    for task_id in [t["taskId"] for t in tasks]:
        try:
            serialize_task(dag.get_task(task_id))
        except Exception as exc:
            return by_id[task_id], exception_message(exc)
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


def stability_item(file: str, line: int, col: int, code: str, message: str) -> ParseWarning:
    """One finding of Airflow 3.2+'s DAG stability check (a value that changes on every parse), as a warning."""
    return {
        "file": file,
        "line": line,
        "column": (col or 0) + 1,
        "category": "RuntimeVaryingValueWarning",
        "message": f"{message} ({code}): the DAG changes on every parse, so Airflow makes a new DAG version each time",
    }


def stability_errors(findings: list[ParseWarning]) -> list[DagImportError]:
    """The stability check's findings at its "error" level, where the DAG processor loads none of the file's DAGs."""
    return [
        {
            "file": item["file"],
            "line": item["line"],
            "column": item.get("column", 1),
            "message": f"DAG stability check failed: {item['message']}",
            "traceback": "",
        }
        for item in findings
    ]
