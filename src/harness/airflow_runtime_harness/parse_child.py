"""A parse in a forked child (isolate.py), for `parse` (one child) and `serve` (a child per request).

The child's job parses and sends its result; a watchdog thread in it answers for a DAG file still running when its
budget is spent, at the line it was running. The parent makes the final result from the child's Outcome: what the
child printed, or what we saw from outside (killed at the hard deadline, the process ended by the DAG file's code).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, cast

from . import preimport
from .import_errors import drop_harness_frames, exception_message, user_frame_of_stack
from .isolate import START, Outcome, run_isolated, write_all
from .parse import parse_in_process
from .paths import UserFiles
from .result import HarnessFailure, ParseResult, base_result

# What a serve child imported from the installed packages (for the server's pre-import); never in a result.
LEARNED_KEY = "_preImportLearned"


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
            ended = _ended_result(file, folder, sys._getframe(1), _airflow_version(), f"os._exit({status})")
            write_all(result_fd, json.dumps(ended).encode() + b"\n")
        real_exit(status)

    def watchdog():
        time.sleep(timeout)
        if not lock.acquire(blocking=False):
            return  # the result is being sent right now
        frame = sys._current_frames().get(main_id)
        write_all(result_fd, json.dumps(_timed_out_result(file, folder, timeout, frame, _airflow_version())).encode())
        real_exit(3)

    before = set(sys.modules) if preimport.LEARN else None
    sent: dict[str, Any]
    try:
        sent = dict(parse_in_process(file, folder, on_start))
        if before is not None:
            sent[LEARNED_KEY] = preimport.imported_since(before)
    except BaseException as exc:  # a harness/Airflow failure, not the DAG's
        sent = {"harnessError": exception_message(exc), "traceback": traceback.format_exc()}
    finally:
        os._exit = real_exit
    data = json.dumps(sent, default=str).encode()
    if not lock.acquire(blocking=False):
        time.sleep(3600)  # the watchdog is writing the timeout result and will exit us
    sys.stdout.flush()
    sys.stderr.flush()
    return data


def _airflow_version() -> str | None:
    return sys.modules["airflow"].__version__ if "airflow" in sys.modules else None


def result_of(
    outcome: Outcome,
    file: str,
    folder: str,
    timeout: float | None,
    version: str | None,
    started: float,
    learned: list | None = None,
) -> ParseResult | HarnessFailure:
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
        result = _result_from_outside(outcome, file, folder, timeout, version, started)
    result["output"] = outcome.output
    drop_harness_frames(result.get("importErrors") or [])
    if "harnessError" not in result and not result.get("timedOut"):
        result["durationMs"] = int((time.monotonic() - started) * 1000)
    return cast("ParseResult | HarnessFailure", result)


def _result_from_outside(
    outcome: Outcome, file: str, folder: str, timeout: float | None, version: str | None, started: float
) -> ParseResult | HarnessFailure:
    """The child sent no result: what its Outcome says happened."""
    if outcome.killed and not outcome.started:
        # never got to the DAG file: the runtime (importing Airflow) is what was slow
        waited = time.monotonic() - started
        return {
            "harnessError": f"the runtime did not start within {waited:.0f}s (importing Airflow took longer)",
            "code": "start-timeout",
        }
    if outcome.killed:
        # not even the watchdog thread could run: native code holding the GIL
        result = _timed_out_result(file, folder, timeout, None, version)
        result["importErrors"][0]["message"] += " (stuck in native code; killed)"
        return result
    if outcome.started and outcome.status is not None:
        # the DAG file's own code ended the process (a signal to itself, os._exit in native code)
        return _ended_result(file, folder, None, version, _how_it_ended(outcome.status))
    return {"harnessError": f"parse child ended without a result (wait status {outcome.status})"}


def parse_isolated(
    file: str, folder: str, timeout: float | None, version: str | None, start_timeout: float | None = None
) -> ParseResult | HarnessFailure:
    """Parse in a forked child and assemble the final result (output, timeout). The engine is told
    when the file starts running (an event on stderr), so its own deadline can start there too."""
    from .env import emit_event

    started = time.monotonic()
    outcome = run_isolated(
        parse_job, {"file": file, "folder": folder}, timeout, start_timeout, on_start=lambda: emit_event("started")
    )
    return result_of(outcome, file, folder, timeout, version, started)


def _timed_out_result(file: str, folder: str, timeout, frame, version) -> ParseResult:
    user = UserFiles(file, folder)
    result = base_result(file, folder, version)
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


def _ended_result(file: str, folder: str, frame, version, how) -> ParseResult:
    """The DAG file's code ended the process (os._exit) at import: Airflow's processor would lose the
    file the same way; we say so at the line that did it."""
    user = UserFiles(file, folder)
    result = base_result(file, folder, version)
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
