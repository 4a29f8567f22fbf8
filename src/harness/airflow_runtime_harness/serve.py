"""The `serve` verb (warm mode): import Airflow once, warm up, then fork one child per parse request.

Protocol (its one definition: media/serve-protocol.schema.json): one JSON request per line on stdin; on
stdout a `ready` line, then one JSON reply per line when that request is done (replies may come out of
order: up to `concurrency` requests are parsed at once, each in its own child).
At the end of stdin the requests accepted are answered, then the server exits; with
AIRFLOW_RUNTIME_OWNER_STDIN=1 (the engines) the end of stdin means the owner is gone, and the server
stops at once, children included.
Every request is parsed in a fresh fork of this process, which has imported Airflow and parsed the
harness's own DAG (warmup.py) but never a user's file: a child's imports, globals and sys.modules die
with it. One child is kept forked ahead of the next request, so the fork is not on its path.
"""

from __future__ import annotations

import collections
import gc
import json
import os
import sys
import time

from . import env, isolate, preimport, reap, warmup
from .parse_child import parse_job, result_of
from .result import write_result

MAX_CONCURRENCY = 4


def default_concurrency() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_CONCURRENCY, cpus))


class _Request:
    def __init__(self, raw: dict, default_timeout: float | None):
        self.id = raw.get("id")
        self.file = raw["file"]
        self.folder = raw.get("dagsFolder") or os.path.dirname(raw["file"])
        self.out = raw.get("out")
        timeout = raw.get("timeout", default_timeout)
        self.timeout = float(timeout) if timeout else None
        self.started = 0.0
        if not os.path.isfile(self.file):
            raise env.HarnessError(f"no such file: {self.file}")


def serve(default_timeout: float | None, concurrency: int | None = None, pre_import: bool = True) -> int:
    # Our stdout is reserved for replies: keep a private copy of it, and point fd 1 at stderr so
    # anything Airflow (or a stray print) writes in this process cannot corrupt the protocol.
    replies_fd = os.dup(1)
    replies = os.fdopen(replies_fd, "w", buffering=1, encoding="utf-8")
    isolate.parent_only_fds.add(replies_fd)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    subreaper = reap.become_subreaper()  # daemons a DAG file double-forks end up here, and are killed
    reap.become_undumpable()
    version = env.prepare()
    from . import compat  # imports Airflow, once

    compat.preload()
    problem = warmup.warm_server()
    if problem:
        print(f"airflow-runtime harness: warm-up failed, parses will be slower: {problem}", file=sys.stderr)
    concurrency = concurrency or default_concurrency()
    pre = preimport.PreImporter() if pre_import else None
    preimport.LEARN = pre is not None
    replies.write(
        json.dumps(
            {
                "ready": True,
                "airflowVersion": version,
                "pid": os.getpid(),
                "concurrency": concurrency,
                "warmup": problem,
                "preImport": pre is not None,
            }
        )
        + "\n"
    )

    def reply(message: dict) -> None:
        replies.write(json.dumps(message, default=str) + "\n")

    owner_stdin = os.environ.get("AIRFLOW_RUNTIME_OWNER_STDIN") == "1"
    pending: collections.deque = collections.deque()
    running: dict = {}  # Child -> _Request
    spare = None
    buffered = b""
    stdin_open = True
    while stdin_open or pending or running:
        ready = isolate.wait_for(list(running), [0] if stdin_open else [])
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                stdin_open = False
                if owner_stdin:
                    # our owner is gone (an engine never closes our stdin while it wants answers): nobody
                    # reads what we would parse, so stop now, whatever is running
                    for child in running:
                        child.close()
                    _discard(spare)
                    if subreaper:
                        reap.kill_descendants(grace=0.1)
                    return 0
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            if not stdin_open and buffered:
                lines.append(buffered)
            for line in lines:
                _accept(line, default_timeout, pending, reply)
        finished = [c for c in running if c.done]
        for child in finished:
            learned: list = []
            reply(_reply_for(running.pop(child), child.outcome, version, learned))
            if pre is not None:
                pre.learn(learned)
        if finished and subreaper:
            isolate.kill_strays()
        while pending and len(running) < concurrency:
            request = pending.popleft()
            if pre is not None and _pre_import(pre, request):
                spare = _discard(spare)  # forked before the server imported more: it would import them again
            child, spare = spare, None
            if child is None or not child.alive():
                _discard(child)
                child = isolate.Child(parse_job)
            request.started = time.monotonic()
            child.send({"file": request.file, "folder": request.folder}, request.timeout)
            running[child] = request
        if spare is None and stdin_open and len(running) < concurrency:
            # forked now, while we wait: the next request does not pay for the fork, and if it is a
            # while coming, this child pre-warms meanwhile
            spare = isolate.Child(parse_job, prewarm=warmup.parse_own_dag)
    _discard(spare)
    return 0


def _accept(line: bytes, default_timeout, pending, reply) -> None:
    line = line.strip()
    if not line:
        return
    req_id = None
    try:
        raw = json.loads(line)
        req_id = raw.get("id")
        pending.append(_Request(raw, default_timeout))
    except Exception as exc:  # one bad request never ends the server
        reply({"id": req_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"})


def _pre_import(pre: preimport.PreImporter, request: _Request) -> bool:
    """The server imports what this file will (see preimport.py); True when a child forked ahead is stale."""
    try:
        from . import compat

        # Airflow's configuration as the child will have it, for a module that reads it at import
        compat.use_dags_folder(request.folder, on_sys_path=False)
        changed = pre.prepare(request.file, request.folder)
    except Exception as exc:  # an optimisation: never a reason to fail a parse
        pre.broken = f"{type(exc).__name__}: {exc}"
        print(f"airflow-runtime harness: pre-import stopped: {pre.broken}", file=sys.stderr)
        return False
    if changed:
        gc.freeze()  # as after the warm-up: a collection in a child does not walk (and copy) them
    return changed


def _reply_for(request: _Request, outcome, version, learned: list | None = None) -> dict:
    try:
        result = result_of(outcome, request.file, request.folder, request.timeout, version, request.started, learned)
        if "harnessError" in result:
            raise env.HarnessError(
                result["harnessError"] + "\n" + result.get("traceback", ""), result.get("code", "harness-failed")
            )
        message = {
            "id": request.id,
            "ok": True,
            "durationMs": int((time.monotonic() - request.started) * 1000),
            "timedOut": result["timedOut"],
            "dags": len(result["dags"]),
            "importErrors": len(result["importErrors"]),
        }
        if request.out:
            write_result(result, request.out)
            message["out"] = os.path.abspath(request.out)
        else:
            message["result"] = result
        return message
    except env.HarnessError as exc:
        return {"id": request.id, "ok": False, "error": str(exc), "code": exc.code}
    except Exception as exc:
        return {"id": request.id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _discard(child) -> None:
    if child is not None:
        child.close()
    return None
