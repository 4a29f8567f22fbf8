"""`serve` pre-imports the installed modules DAG files use, and each child is still a fresh fork of it.

Each test runs a server with the pre-import and, where it proves the test can fail, one without
(`--no-pre-import`): the DAG files write what they saw into their DAG's tags.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import CORPUS, Server, harness_env

HEADER = '''import sys
SEEN = sorted(m for m in {watch} if m in sys.modules)
sys.path.insert(0, {corpus!r})
'''
MARKS = (
    HEADER.replace("{watch}", '("sqlparse",)')
    + '''import sqlparse
MARKED = getattr(sqlparse, "MARKED_BY", None)
sqlparse.MARKED_BY = {name!r}
sqlparse.format = None
from _compat import DAG
import datetime
with DAG({name!r}, start_date=datetime.datetime(2024, 1, 1), schedule=None,
         tags=["seen:" + ",".join(SEEN), f"marked:{{MARKED}}"]):
    pass
'''
)
SHARED = (
    HEADER.replace("{watch}", '("include", "include.shared")')
    + '''from include.shared import VALUE
from _compat import DAG
import datetime
with DAG("shared", start_date=datetime.datetime(2024, 1, 1), schedule=None,
         tags=["seen:" + ",".join(SEEN), f"value:{{VALUE}}"]):
    pass
'''
)
FAILING = '''import datetime

import dateutil.tz.win  # fails on Linux: six.moves has no winreg

with DAG("never", start_date=datetime.datetime(2024, 1, 1)):
    pass
'''


WARNING = '''import datetime
import sys
sys.path.insert(0, {corpus!r})
import cgi  # DeprecationWarning at import (Python 3.11)
from _compat import DAG
with DAG("warns", start_date=datetime.datetime(2024, 1, 1), schedule=None):
    pass
'''
LAZY = (
    HEADER.replace("{watch}", '("wave",)')
    + '''
def load():
    import wave
    return wave
load()
from _compat import DAG
import datetime
with DAG("lazy", start_date=datetime.datetime(2024, 1, 1), schedule=None, tags=["seen:" + ",".join(SEEN)]):
    pass
'''
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("preimport") / "project"
    dags = root / "dags"
    (root / "include").mkdir(parents=True)
    dags.mkdir()
    (root / "include" / "__init__.py").write_text("")
    (root / "include" / "shared.py").write_text("VALUE = 1\n")
    for name in ("first", "second"):
        (dags / f"{name}.py").write_text(MARKS.format(corpus=str(CORPUS), name=name))
    (dags / "shared_user.py").write_text(SHARED.format(corpus=str(CORPUS)))
    (dags / "failing.py").write_text(FAILING)
    (dags / "lazy.py").write_text(LAZY.format(corpus=str(CORPUS)))
    (dags / "warns.py").write_text(WARNING.format(corpus=str(CORPUS)))
    return root, dags


@pytest.fixture(scope="module")
def servers(version, python_for, project):
    """One server with the pre-import and one without (the control), per Airflow version, for this file."""
    root, _ = project
    # the project root on sys.path, as the engines put it for an Astro layout: include/ is the workspace's
    env = harness_env({"PYTHONPATH": os.pathsep.join([harness_env()["PYTHONPATH"], str(root)])})
    argv = [str(python_for(version)), "-m", "airflow_runtime_harness", "serve", "--concurrency", "1"]
    started = {"pre": Server(argv, env), "plain": Server(argv + ["--no-pre-import"], env)}
    yield started
    for server in started.values():
        server.close()


def _parse(server: Server, file: Path, dags: Path) -> dict:
    reply = server.request(file=str(file), dagsFolder=str(dags))
    assert reply["ok"], reply
    return reply["result"]


def _logged(server: Server, text: str) -> bool:
    """The server said `text` on stderr (printed before the child was forked; read by another thread)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if text in "".join(server._stderr):
            return True
        time.sleep(0.05)
    raise AssertionError(f"the server never said {text!r}:\n" + "".join(server._stderr)[-2000:])


def _tags(result: dict) -> dict:
    assert result["importErrors"] == [], result["importErrors"]
    [dag] = result["dags"]
    return dict(tag.split(":", 1) for tag in dag["tags"])


def test_a_pre_imported_module_changed_by_one_file_is_fresh_for_the_next(servers, project):
    _, dags = project
    assert servers["pre"].hello["preImport"] is True and servers["plain"].hello["preImport"] is False
    first = _tags(_parse(servers["pre"], dags / "first.py", dags))
    second = _tags(_parse(servers["pre"], dags / "second.py", dags))
    # sqlparse was in the server before the files ran (the pre-import happened) ...
    assert first["seen"] == "sqlparse" and second["seen"] == "sqlparse", (first, second)
    # ... and what the first file did to it never reached the second
    assert first["marked"] == "None" and second["marked"] == "None", (first, second)
    # without the pre-import nothing had imported it: the file alone did
    assert _tags(_parse(servers["plain"], dags / "first.py", dags))["seen"] == ""


def test_a_workspace_helper_is_never_pre_imported_and_an_edit_is_read_fresh(servers, project):
    root, dags = project
    (root / "include" / "shared.py").write_text("VALUE = 1\n")
    before = _tags(_parse(servers["pre"], dags / "shared_user.py", dags))
    (root / "include" / "shared.py").write_text("VALUE = 2\n")
    after = _tags(_parse(servers["pre"], dags / "shared_user.py", dags))
    assert before == {"seen": "", "value": "1"}, before
    assert after == {"seen": "", "value": "2"}, after


def test_a_failing_pre_import_leaves_the_file_its_own_import_error(servers, project):
    _, dags = project
    with_pre = _parse(servers["pre"], dags / "failing.py", dags)
    without = _parse(servers["plain"], dags / "failing.py", dags)
    # the server tried it and left it to the file ...
    assert _logged(servers["pre"], "left to the DAG files: dateutil.tz.win (failed")
    # ... whose import error is where it would be without any pre-import: at the file's import line
    [error] = with_pre["importErrors"]
    assert (error["file"], error["line"]) == (str(dags / "failing.py"), 3), error
    assert "winreg" in error["message"], error
    assert [(e["file"], e["line"], e["message"]) for e in without["importErrors"]] == [
        (error["file"], error["line"], error["message"])
    ]


def test_a_module_that_warns_at_import_is_left_to_the_file_which_keeps_its_warning(servers, project):
    _, dags = project
    found = {}
    for kind in ("pre", "plain"):
        result = _parse(servers[kind], dags / "warns.py", dags)
        assert result["importErrors"] == [], result["importErrors"]
        found[kind] = [(w["file"], w["line"], w["category"]) for w in result["warnings"] if "cgi" in w["message"]]
    assert _logged(servers["pre"], "cgi (warned at import: DeprecationWarning")
    assert found["pre"] == found["plain"] == [(str(dags / "warns.py"), 4, "DeprecationWarning")], found


def test_the_pre_import_is_learned_from_what_children_imported(servers, project):
    """A module imported only inside a function is not in the file's top level: the server learns it from the
    first child and holds it for the next."""
    _, dags = project
    first = _tags(_parse(servers["pre"], dags / "lazy.py", dags))
    second = _tags(_parse(servers["pre"], dags / "lazy.py", dags))  # the server took what it learned before forking
    assert first["seen"] == "" and second["seen"] == "wave", (first, second)


def test_what_a_child_reports_for_the_pre_import_stays_out_of_the_result(servers, project):
    _, dags = project
    result = _parse(servers["pre"], dags / "second.py", dags)
    assert not any(key.startswith("_") for key in result), sorted(result)
