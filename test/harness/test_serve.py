"""`serve`: one forked child per request, nothing leaks between parses, hung children are killed."""
from __future__ import annotations

import json
import time

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
        hung = server.request(file=str(CORPUS / "hang.py"), dagsFolder=str(CORPUS), out=str(tmp_path / "h.json"),
                              timeout=2)
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
