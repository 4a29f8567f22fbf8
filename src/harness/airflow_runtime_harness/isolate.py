"""Run one job in a forked child: its own session, its output drained with a cap, a hard deadline.

Used by `parse` (fork before Airflow is imported) and by `serve` (fork after: the fast path).
The child sends its result bytes on a private pipe, so nothing the DAG prints can corrupt it.
The child's fds 1 and 2 go to another pipe that we drain: we count every byte but keep only
the last TAIL_BYTES, so a DAG printing gigabytes costs no memory.
The child also runs a watchdog thread (see parse.py) that reports where it was stuck; if even that
cannot run (native code holding the GIL), we kill the child's whole process group at the deadline.
"""
from __future__ import annotations

import os
import selectors
import signal
import time
import traceback

TAIL_BYTES = 16 * 1024
GRACE_SECONDS = 2.0
# The timeout is the DAG file's budget (like dagbag_import_timeout), so it starts when the child
# says "started" (one START byte on the result pipe), after Airflow's own import; until then the
# child gets this long to import Airflow.
STARTUP_SECONDS = 120.0
START = b"\x00"


class Outcome:
    def __init__(self):
        self.result = b""
        self.output_bytes = 0
        self.output_tail = bytearray()
        self.killed = False  # we had to kill the child at the hard deadline
        self.status = None  # wait status of the child

    @property
    def output(self) -> dict:
        return {
            "bytes": self.output_bytes,
            "truncated": self.output_bytes > len(self.output_tail),
            "tail": bytes(self.output_tail).decode("utf-8", "replace"),
        }


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_isolated(job, timeout: float | None) -> Outcome:
    """Fork; in the child call job(result_fd, timeout) -> bytes. Returns the Outcome."""
    out_r, out_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.setsid()  # its own process group: whatever the DAG spawns dies with it
            os.close(out_r)
            os.close(res_r)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.close(out_w)
            data = job(res_w, timeout)
            if data is not None:
                _write_all(res_w, data)
        except BaseException:
            try:
                os.write(2, traceback.format_exc().encode())
            except OSError:
                pass
            code = 2
        finally:
            os._exit(code)

    os.close(out_w)
    os.close(res_w)
    outcome = Outcome()
    start = time.monotonic()
    hard_deadline = start + STARTUP_SECONDS
    started = False
    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ, "out")
    sel.register(res_r, selectors.EVENT_READ, "res")
    result = bytearray()
    open_fds = 2
    child_done_at = None
    try:
        while open_fds:
            now = time.monotonic()
            wait = 0.2
            if hard_deadline is not None:
                wait = max(0.0, min(wait, hard_deadline - now))
            for key, _ in sel.select(wait):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    open_fds -= 1
                elif key.data == "res":
                    if not started and chunk.startswith(START):
                        started = True
                        chunk = chunk[1:]
                        hard_deadline = None if timeout is None else time.monotonic() + timeout + GRACE_SECONDS
                    result += chunk
                else:
                    outcome.output_bytes += len(chunk)
                    outcome.output_tail += chunk
                    if len(outcome.output_tail) > TAIL_BYTES:
                        del outcome.output_tail[: len(outcome.output_tail) - TAIL_BYTES]
            if outcome.status is None:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    outcome.status = status
                    child_done_at = time.monotonic()
                    _kill_group(pid)  # leftovers the DAG started would hold our pipe open
            if child_done_at is not None and time.monotonic() - child_done_at > 1.0:
                break  # a grandchild outside the group still holds the output pipe: stop draining
            if hard_deadline is not None and time.monotonic() >= hard_deadline and outcome.status is None:
                outcome.killed = True
                _kill_group(pid)
                _, outcome.status = os.waitpid(pid, 0)
                child_done_at = time.monotonic() - 0.8  # drain what is buffered, briefly
    finally:
        sel.close()
        os.close(out_r)
        os.close(res_r)
        if outcome.status is None:
            _kill_group(pid)
            _, outcome.status = os.waitpid(pid, 0)
    outcome.result = bytes(result)
    return outcome


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
