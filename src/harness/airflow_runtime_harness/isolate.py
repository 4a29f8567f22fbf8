"""Run one job in a forked child: its own session, its output drained with a cap, a hard deadline.

Used by `parse` (fork before Airflow is imported) and by `serve` (fork after: the fast path).
A child is forked first and given its request afterwards, on a pipe: `serve` keeps one child forked
ahead of the next request, so the fork is off the request's path, and when that child has waited a
moment with nothing to do it pre-warms (see `Child`).
The child sends its result bytes on a private pipe, so nothing the DAG prints can corrupt it.
The child's fds 1 and 2 go to another pipe that we drain: we count every byte but keep only
the last TAIL_BYTES, so a DAG printing gigabytes costs no memory.
The child also runs a watchdog thread (see parse_child.py) that reports where it was stuck; if even that
cannot run (native code holding the GIL), we kill the child's whole process group at the deadline.
"""

from __future__ import annotations

import json
import os
import select
import selectors
import signal
import sys
import time
import traceback
from typing import Callable

from . import reap

TAIL_BYTES = 16 * 1024
GRACE_SECONDS = 2.0
# The timeout is the DAG file's budget (like dagbag_import_timeout), so it starts when the child
# says "started" (one START byte on the result pipe), when the DAG file's own code starts; until then
# the child gets this long to import Airflow and set up the DagBag.
STARTUP_SECONDS = 120.0
START = b"\x00"
END = b"\n"  # after a complete result (JSON on one line); a result cut short lacks it
# After its parent's last request a child forked ahead waits this long for the next one before it
# pre-warms: a stream of requests (a folder) is not slowed by pre-warming, a lone one (a save) is sped up.
PREWARM_AFTER_SECONDS = 0.05
# How long we keep draining output after the child ended (a grandchild outside its group may hold the pipe).
DRAIN_AFTER_EXIT_SECONDS = 1.0

# fds a child must not keep (serve's reply stream): a DAG writing to them would corrupt the protocol.
parent_only_fds: set = set()


class Outcome:
    def __init__(self):
        self.result = b""
        self.output_bytes = 0
        self.output_tail = bytearray()
        self.killed = False  # we had to kill the child at the hard deadline
        self.started = False  # the child had imported Airflow and started the job
        self.status: int | None = None  # wait status of the child

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


class Child:
    """A forked child that waits for one request (a JSON line on a pipe) and answers it with
    job(result_fd, request, timeout) -> bytes.

    With `prewarm`, a child that has waited PREWARM_AFTER_SECONDS without a request calls prewarm()
    (its output discarded): the pages a parse writes are copied (copy-on-write faults) before the
    request comes instead of during it. It sees only what its parent saw, plus the harness's own
    warm-up DAG, so isolation is that of a fresh fork.
    """

    _open: dict = {}  # pid -> Child, for the fds a newer child must close

    def __init__(self, job, prewarm=None, prewarm_after: float = PREWARM_AFTER_SECONDS):
        self.outcome = Outcome()
        self.done = False
        self.timeout = None
        self.sent_at = None
        self._result = bytearray()
        self._started = False
        self._hard_deadline: float | None = None
        self._exited_at: float | None = None
        self._on_start: Callable[[], None] | None = None
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        req_r, req_w = os.pipe()
        parent = os.getpid()
        set_death_signal = _death_signal_setter()
        pid = os.fork()
        if pid == 0:  # child
            # killed with its parent: a server killed at any moment leaves no child behind, even one it
            # forked after its killer listed its descendants (ours leave their parent's process group)
            set_death_signal()
            if os.getppid() != parent:
                os._exit(0)
            self._child(job, prewarm, prewarm_after, out_r, out_w, res_r, res_w, req_r, req_w)
        self.pid = pid
        os.close(out_w)
        os.close(res_w)
        os.close(req_r)
        self.out_r, self.res_r, self.req_w = out_r, res_r, req_w
        self.fds = [out_r, res_r]
        try:  # readable when the child exits: no polling for its end
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None
        Child._open[pid] = self

    # -- the child ---------------------------------------------------------------------------------
    @staticmethod
    def _child(job, prewarm, prewarm_after, out_r, out_w, res_r, res_w, req_r, req_w):
        code = 0
        try:
            os.setsid()  # its own process group: whatever the DAG spawns dies with it
            # and what leaves the group (a double-forked daemon) is re-parented to us, to be killed at the end
            subreaper = reap.become_subreaper()
            for other in list(Child._open.values()):
                for fd in (other.out_r, other.res_r, other.req_w, other.pidfd):
                    _close_quietly(fd)
            for fd in parent_only_fds:
                _close_quietly(fd)
            os.close(out_r)
            os.close(res_r)
            os.close(req_w)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            if prewarm is not None and not select.select([req_r], [], [], prewarm_after)[0]:
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                try:
                    prewarm()
                except Exception:
                    pass  # pre-warming is an optimisation: the request is served all the same
                sys.stdout.flush()
                sys.stderr.flush()
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.close(out_w)
            os.close(devnull)
            line = _read_line(req_r)
            os.close(req_r)
            if not line:
                os._exit(0)  # the parent let us go unused
            message = json.loads(line)
            data = job(res_w, message["request"], message["timeout"])
            if data is not None:
                write_all(res_w, data + END)
                # Done: close our ends of both pipes now rather than at exit, which first tears down the
                # address space (milliseconds for a process this size): the parent need not wait for that.
                os.close(res_w)
                os.close(1)
                os.close(2)
            if subreaper:
                reap.kill_descendants(grace=0.1)
        except BaseException:
            try:
                os.write(2, traceback.format_exc().encode())
            except OSError:
                pass
            code = 2
        finally:
            os._exit(code)

    # -- the parent --------------------------------------------------------------------------------
    def send(self, request: dict, timeout: float | None, start_timeout: float | None = None, on_start=None) -> None:
        """Gives the child its request; its startup budget (importing Airflow) starts now, the job's own
        budget when the child says it started (on_start is called then)."""
        self.timeout = timeout
        self.sent_at = time.monotonic()
        self.start_timeout = start_timeout or STARTUP_SECONDS
        self._on_start = on_start
        self._hard_deadline = self.sent_at + self.start_timeout
        try:
            write_all(self.req_w, (json.dumps({"request": request, "timeout": timeout}) + "\n").encode())
        except OSError:
            pass  # it died: we find out from its pipes and its wait status
        os.close(self.req_w)
        self.req_w = -1

    def alive(self) -> bool:
        """Still waiting for its request (a child forked ahead may have died meanwhile)."""
        if self.outcome.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.outcome.status = status
                self._exited_at = time.monotonic()
        return self.outcome.status is None

    def on_readable(self, fd: int) -> bool:
        """Reads what is there; returns False at end of file (the caller stops watching fd)."""
        chunk = os.read(fd, 65536)
        if not chunk:
            self.fds.remove(fd)
            return False
        if fd == self.res_r:
            if not self._started and chunk.startswith(START):
                self._started = self.outcome.started = True
                chunk = chunk[1:]
                if self._on_start is not None:
                    self._on_start()
                self._hard_deadline = None if self.timeout is None else time.monotonic() + self.timeout + GRACE_SECONDS
            self._result += chunk
        else:
            outcome = self.outcome
            outcome.output_bytes += len(chunk)
            outcome.output_tail += chunk
            if len(outcome.output_tail) > TAIL_BYTES:
                del outcome.output_tail[: len(outcome.output_tail) - TAIL_BYTES]
        return True

    def watched_fds(self) -> list:
        """What the event loop waits on: the two pipes, and the child's end."""
        if self.pidfd is not None and self.outcome.status is None:
            return self.fds + [self.pidfd]
        return self.fds

    def wake_at(self) -> float | None:
        """When `poll` must run next even if no fd is readable."""
        if self._exited_at is not None:
            return self._exited_at + DRAIN_AFTER_EXIT_SECONDS
        if self.pidfd is None and not self.fds:
            return time.monotonic() + 0.005  # pipes closed, exit not seen yet: look again soon
        return self._hard_deadline

    def poll(self) -> bool:
        """Reaps, enforces the hard deadline; returns True once the outcome is complete."""
        if self.done:
            return True
        outcome = self.outcome
        if outcome.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                outcome.status = status
                self._exited_at = time.monotonic()
                _kill_group(self.pid)  # leftovers the DAG started would hold our pipe open
        if outcome.status is None and not self.fds and self._result.endswith(END):
            # a complete result and both pipes closed: the child is only exiting now; reaped later
            _kill_group(self.pid)  # what the DAG started, as at the end of any child
            _unreaped.add(self.pid)
            self._finish()
            return True
        now = time.monotonic()
        if outcome.status is None and self._hard_deadline is not None and now >= self._hard_deadline:
            outcome.killed = True
            _kill_group(self.pid)
            _, outcome.status = os.waitpid(self.pid, 0)
            self._exited_at = now - (DRAIN_AFTER_EXIT_SECONDS - 0.2)  # drain what is buffered, briefly
        exited_at = self._exited_at if self._exited_at is not None else now
        if outcome.status is not None and (not self.fds or now - exited_at > DRAIN_AFTER_EXIT_SECONDS):
            self._finish()
        return self.done

    def close(self) -> None:
        """Ends the child (if it still runs) and releases everything; the outcome is what we have."""
        if self.req_w >= 0:
            os.close(self.req_w)
            self.req_w = -1
        if self.done:
            return
        if self.outcome.status is None:
            _kill_group(self.pid)
            _, self.outcome.status = os.waitpid(self.pid, 0)
        self._finish()

    def _finish(self) -> None:
        self.done = True
        for fd in (self.out_r, self.res_r, self.pidfd):
            _close_quietly(fd)
        self.fds = []
        Child._open.pop(self.pid, None)
        self.outcome.result = bytes(self._result)


_unreaped: set = set()  # children that gave their result and were left to exit


def _reap_finished() -> None:
    for pid in list(_unreaped):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _unreaped.discard(pid)


def wait_for(children: list, extra_fds=(), timeout: float | None = None) -> list:
    """One round of the event loop over children (and extra fds, e.g. stdin): returns the extra fds
    that are readable. Each child's pipes are read and its deadlines enforced."""
    sel = selectors.DefaultSelector()
    try:
        for fd in extra_fds:
            sel.register(fd, selectors.EVENT_READ, None)
        wake = timeout
        now = time.monotonic()
        for child in children:
            for fd in child.watched_fds():
                sel.register(fd, selectors.EVENT_READ, child)
            at = child.wake_at()
            if at is not None:
                wake = max(0.0, at - now) if wake is None else max(0.0, min(wake, at - now))
        ready = []
        for key, _ in sel.select(wake):
            if key.data is None:
                ready.append(key.fd)
            elif key.fd != key.data.pidfd:
                key.data.on_readable(key.fd)
        for child in children:
            child.poll()
        _reap_finished()
        return ready
    finally:
        sel.close()


def kill_strays() -> int:
    """Kills what our children left behind and was re-parented to us (we are a subreaper: see
    reap.become_subreaper): every child of ours that is not a Child we know, with its descendants."""
    return reap.kill_descendants(grace=0.1, spare=frozenset(Child._open) | frozenset(_unreaped))


def run_isolated(job, request: dict, timeout: float | None, start_timeout: float | None = None, on_start=None) -> Outcome:
    """Fork a child, give it the request, wait for its Outcome."""
    child = Child(job)
    try:
        child.send(request, timeout, start_timeout, on_start)
        while not child.done:
            wait_for([child])
    finally:
        child.close()
    return child.outcome


_PR_SET_PDEATHSIG = 1
_setter = None


def _death_signal_setter():
    """A function that asks the kernel to SIGKILL this process when its parent dies (Linux; elsewhere a
    no-op). Built in the parent, so that a child pays only the system call."""
    global _setter
    if _setter is None:
        _setter = lambda: None  # noqa: E731
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                prctl = ctypes.CDLL(None, use_errno=True).prctl
                _setter = lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # noqa: E731
            except Exception:
                pass
    return _setter


def _read_line(fd: int) -> bytes:
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _close_quietly(fd: int | None) -> None:
    if fd is None or fd < 0:
        return
    try:
        os.close(fd)
    except OSError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """All of `data` on a pipe, however many writes it takes: a child's request, and what a job sends on its result
    pipe (START, then its result)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
