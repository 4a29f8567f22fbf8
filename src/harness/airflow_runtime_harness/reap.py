"""Every process a task started is gone when `run` returns (Linux).

We become a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so even double-forked daemons are
re-parented to us instead of init; after the task we kill every descendant and reap them.
In a container the container's end does the rest; elsewhere we do what we can and say so.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4


def _prctl(option: int, value: int) -> bool:
    """Linux's prctl(2) for this process; False where there is none or it refuses."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except Exception:
        return False


def become_subreaper() -> bool:
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def become_undumpable() -> bool:
    """The warm server holds what every parse starts from: a forked DAG file must not read or trace it (through
    /proc/<ppid>/mem or ptrace, as the same uid could). Not dumpable, only a process with CAP_SYS_PTRACE can."""
    return _prctl(PR_SET_DUMPABLE, 0)


def _children_of(pid: int) -> list[int] | None:
    """Direct children from /proc/<pid>/task/*/children (cheap); None where the kernel does not offer it."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(p) for p in fh.read().split())
        except FileNotFoundError:
            if tid == tasks[0]:
                return None  # no CONFIG_PROC_CHILDREN
        except OSError:
            pass
    return found


def _children_by_scan() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may hold spaces and parens: fields start after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def _descendants(root: int) -> list[int]:
    scanned = None
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = _children_of(pid)
        if kids is None:
            scanned = scanned if scanned is not None else _children_by_scan()
            kids = scanned.get(pid, [])
        found.extend(kids)
        todo.extend(kids)
    return found


def _reap_nohang(spare: frozenset = frozenset()) -> None:
    if spare:  # waitpid(-1) would take the status of a child someone else waits for
        for pid in _children_of(os.getpid()) or []:
            if pid not in spare:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        return
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(grace: float = 0.5, spare: frozenset = frozenset()) -> int:
    """SIGTERM, then SIGKILL, every descendant (but the children in `spare` and theirs); reap them.
    Returns how many there were."""
    if not os.path.isdir("/proc"):
        return 0
    me = os.getpid()

    def doomed() -> list[int]:
        if not spare:
            return _descendants(me)
        out = []
        for child in _children_of(me) or _children_by_scan().get(me, []):
            if child not in spare:
                out.append(child)
                out.extend(_descendants(child))
        return out

    first = doomed()
    if not first:
        return 0
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        pids = doomed()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and doomed():
            _reap_nohang(spare)
            time.sleep(0.05)
    for _ in range(50):  # zombies re-parented to us must be waited for, or they stay in /proc
        _reap_nohang(spare)
        if not doomed():
            break
        time.sleep(0.02)
    return len(first)
