"""`serve`: one forked child per request, nothing leaks between parses, hung children are killed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from conftest import CORPUS, TIMINGS, Server, harness_env

FIRST = '''
import builtins
import leaky_helper  # noqa: F401
builtins.LEAKED_BY_FIRST = True
import datetime
import sys
sys.path.insert(0, {corpus!r})
from _compat import DAG
with DAG("first", start_date=datetime.datetime(2024, 1, 1), schedule=None):
    pass
'''
SECOND = '''
import builtins
import datetime
import sys
assert not hasattr(builtins, "LEAKED_BY_FIRST"), "a global leaked from the previous parse"
assert "leaky_helper" not in sys.modules, "a module leaked from the previous parse"
sys.path.insert(0, {corpus!r})
from _compat import DAG
with DAG("second", start_date=datetime.datetime(2024, 1, 1), schedule=None):
    pass
'''


def test_serve_isolates_and_survives_hangs(version, python_for, tmp_path):
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "leaky_helper.py").write_text("VALUE = 1\n")
    (folder / "first.py").write_text(FIRST.format(corpus=str(CORPUS)))
    (folder / "second.py").write_text(SECOND.format(corpus=str(CORPUS)))
    server = Server([str(python_for(version)), "-m", "airflow_runtime_harness", "serve"], harness_env())
    try:
        assert server.hello["airflowVersion"] == version
        replies = {}
        for name in ("first", "second"):
            out = tmp_path / f"{name}.json"
            replies[name] = server.request(file=str(folder / f"{name}.py"), dagsFolder=str(folder), out=str(out))
            assert replies[name]["ok"], replies[name]
            result = json.loads(out.read_text())
            assert result["importErrors"] == [], result["importErrors"]
            assert [d["dagId"] for d in result["dags"]] == [name]

        started = time.monotonic()
        hung = server.request(file=str(CORPUS / "hang.py"), dagsFolder=str(CORPUS), out=str(tmp_path / "h.json"), timeout=2)
        assert hung["ok"] and hung["timedOut"] is True, hung
        assert time.monotonic() - started < 10
        after = server.request(file=str(CORPUS / "classic.py"), dagsFolder=str(CORPUS), out=str(tmp_path / "c.json"))
        assert after["ok"] and after["dags"] == 1 and after["importErrors"] == 0, after
        TIMINGS[f"warm parse classic.py airflow {version}"] = f"{after['durationMs']} ms"
        bad = server.request(file=str(tmp_path / "missing.py"), dagsFolder=str(folder), out=str(tmp_path / "m.json"))
        assert bad["ok"] is False and "missing.py" in bad["error"]
        assert server.proc.poll() is None
    finally:
        server.close()


NO_TRACE = '''
import datetime
import sys
sys.path.insert(0, {corpus!r})
leftovers = [m for m in sys.modules if "harness_warmup" in m] + [p for p in sys.path if "warmup_dags" in p]
assert not leftovers, f"the harness's warm-up left {{leftovers}}"
from _compat import DAG
with DAG("{name}", start_date=datetime.datetime(2024, 1, 1), schedule=None):
    pass
'''


def test_serve_answers_requests_at_once_in_any_order_with_results_inline(version, python_for, tmp_path):
    folder = tmp_path / "dags"
    folder.mkdir()
    names = [f"clean_{i}" for i in range(6)]
    for name in names:
        (folder / f"{name}.py").write_text(NO_TRACE.format(corpus=str(CORPUS), name=name))
    proc = subprocess.Popen(
        [str(python_for(version)), "-m", "airflow_runtime_harness", "serve", "--concurrency", "3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=harness_env(),
        text=True,
        bufsize=1,
    )
    try:
        hello = json.loads(proc.stdout.readline())
        assert hello["ready"] and hello["concurrency"] == 3 and hello["warmup"] is None, hello
        # a slow file first: the others overtake it
        slow = folder / "slow.py"
        slow.write_text("import time\ntime.sleep(1.5)\n" + NO_TRACE.format(corpus=str(CORPUS), name="slow"))
        for i, file in enumerate([slow] + [folder / f"{n}.py" for n in names]):
            proc.stdin.write(json.dumps({"id": i, "file": str(file), "dagsFolder": str(folder), "timeout": 60}) + "\n")
        proc.stdin.flush()
        replies = [json.loads(proc.stdout.readline()) for _ in range(len(names) + 1)]
        assert all(r["ok"] for r in replies), replies
        assert replies[-1]["id"] == 0, [r["id"] for r in replies]
        for reply in replies:
            assert "out" not in reply
            result = reply["result"]
            assert result["importErrors"] == [], result["importErrors"]
            assert [d["dagId"] for d in result["dags"]] == [Path(result["file"]).stem]
            assert result["format"] == "airflow-runtime/parse-result@1"

        # a pause: the child forked ahead pre-warms with the harness's own DAG, which must leave no trace
        time.sleep(1.0)
        proc.stdin.write(json.dumps({"id": "after-pause", "file": str(folder / "clean_0.py"), "dagsFolder": str(folder)}) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        assert reply["ok"] and reply["result"]["importErrors"] == [] and reply["dags"] == 1, reply
        assert reply["result"]["output"]["bytes"] == 0 or "harness_warmup" not in reply["result"]["output"]["tail"]
        TIMINGS[f"warm parse after a pause (pre-warmed child) airflow {version}"] = f"{reply['durationMs']} ms"
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(name))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"  # a zombie is dead, waiting to be reaped


def test_serve_killed_leaves_no_child(version, python_for, tmp_path):
    """Its children leave its process group (setsid); killed while one hangs, it must not leave them behind."""
    server = Server([str(python_for(version)), "-m", "airflow_runtime_harness", "serve"], harness_env())
    try:
        server.proc.stdin.write(
            json.dumps({"id": 1, "file": str(CORPUS / "hang.py"), "dagsFolder": str(CORPUS), "timeout": 60}) + "\n"
        )
        server.proc.stdin.flush()
        deadline = time.monotonic() + 10
        while len(_children(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the hanging parse, and the child forked ahead of the next request
        children = _children(server.proc.pid)
        assert len(children) == 2, children
        server.proc.kill()
        server.proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [c for c in children if _alive(c)], "children outlived their server"
    finally:
        for child in _children(server.proc.pid):
            os.kill(child, 9)
        server.close()
