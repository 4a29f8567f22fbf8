"""The `serve` verb (warm mode): import Airflow once, then fork one child per parse request.

Protocol: one JSON request per line on stdin
  {"id": any, "file": path, "dagsFolder": path, "out": path, "timeout": seconds}
and one JSON reply per line on stdout
  {"id", "ok": true, "out", "durationMs", "timedOut", "importErrors": n, "dags": n}
  {"id", "ok": false, "error": message}
The fork happens after Airflow and the common operators are imported, which is what makes a
warm parse fast; the child's imports, globals and sys.modules die with it.
"""
from __future__ import annotations

import json
import os
import sys
import time

from . import env
from .parse import parse_isolated, write_result


def serve(default_timeout: float | None) -> int:
    # Our stdout is reserved for replies: keep a private copy of it, and point fd 1 at stderr so
    # anything Airflow (or a stray print) writes in this process cannot corrupt the protocol.
    replies = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    version = env.prepare()
    from . import compat  # imports Airflow, once

    compat.preload()
    replies.write(json.dumps({"ready": True, "airflowVersion": version, "pid": os.getpid()}) + "\n")

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req_id = None
        try:
            req = json.loads(line)
            req_id = req.get("id")
            started = time.monotonic()
            timeout = req.get("timeout", default_timeout)
            file, folder, out = req["file"], req.get("dagsFolder") or os.path.dirname(req["file"]), req["out"]
            if not os.path.isfile(file):
                raise env.HarnessError(f"no such file: {file}")
            result = parse_isolated(file, folder, float(timeout) if timeout else None, version)
            if "harnessError" in result:
                raise env.HarnessError(result["harnessError"] + "\n" + result.get("traceback", ""))
            write_result(result, out)
            reply = {"id": req_id, "ok": True, "out": os.path.abspath(out),
                     "durationMs": int((time.monotonic() - started) * 1000),
                     "timedOut": result["timedOut"], "dags": len(result["dags"]),
                     "importErrors": len(result["importErrors"])}
        except Exception as exc:  # one bad request never ends the server
            reply = {"id": req_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
    return 0
