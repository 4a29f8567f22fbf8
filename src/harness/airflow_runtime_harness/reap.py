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


def become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except Exception:
        return False


def _descendants(root: int) -> list[int]:
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
        fields = stat[stat.rfind(b")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap_nohang() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(grace: float = 0.5) -> int:
    """SIGTERM, then SIGKILL, every descendant; reap them. Returns how many there were."""
    if not os.path.isdir("/proc"):
        return 0
    me = os.getpid()
    first = _descendants(me)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        pids = _descendants(me)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _descendants(me):
            _reap_nohang()
            time.sleep(0.05)
    for _ in range(50):  # zombies re-parented to us must be waited for, or they stay in /proc
        _reap_nohang()
        if not _descendants(me):
            break
        time.sleep(0.02)
    return len(first)
