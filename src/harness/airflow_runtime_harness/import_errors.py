"""Import errors located at the deepest user frame (the DAG file or a helper it imports)."""

from __future__ import annotations

import io
import linecache
import re
import sys
import traceback

from .paths import UserFiles


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


def import_error_from_exception(exc: BaseException, user: UserFiles, fallback_file: str) -> dict:
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
    error = {
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
