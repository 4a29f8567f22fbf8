"""Where the harness says things are, on a project with shared helpers (test/projects/shared), both versions:
a @task of include/ called once per DAG file is at its call in the DAG file; a helper that fails at import is
the DAG file's error at the helper's line, related to the DAG file's import line; a DAG argument the serializer
rejects is at that argument; no traceback carries the harness's own frames."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import REPO, harness_env

SHARED = REPO / "test" / "projects" / "shared"

# Airflow 3's asset watchers: the serializer asks the trigger to describe itself, and this one cannot
REJECTED = '''import datetime

from airflow.sdk import DAG, Asset, AssetWatcher
from airflow.triggers.base import BaseEventTrigger


class QueueTrigger(BaseEventTrigger):
    def __init__(self, queue):
        super().__init__()
        self.queue = queue

    def serialize(self):
        raise ValueError(f"queue {self.queue!r} has no scheme")

    async def run(self):
        yield None


orders = QueueTrigger(queue="orders")
watched = Asset("orders", watchers=[AssetWatcher(name="orders", trigger=orders)])

with DAG(
    "rejected",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=[watched],
) as dag:
    pass
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared") / "project"
    shutil.copytree(SHARED, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "dags" / "rejected.py").write_text(REJECTED)
    return root


def parse(python, project, name: str, out) -> dict:
    env = harness_env({"PYTHONPATH": f"{harness_env()['PYTHONPATH']}:{project}", "AIRFLOW_RUNTIME_USER_PATHS": str(project)})
    target = out / f"{name}.json"
    run = subprocess.run(
        [
            str(python),
            "-m",
            "airflow_runtime_harness",
            "parse",
            "--file",
            str(project / "dags" / name),
            "--dags-folder",
            str(project / "dags"),
            "--out",
            str(target),
        ],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert target.exists(), run.stdout + run.stderr
    return json.loads(target.read_text())


def test_a_helper_task_called_once_is_at_its_call_in_the_dag_file(version, python_for, project, tmp_path):
    for name, line in (("orders.py", 7), ("customers.py", 8)):
        result = parse(python_for(version), project, name, tmp_path)
        [task] = result["dags"][0]["tasks"]
        assert (task["file"], task["line"]) == (str(project / "dags" / name), line), task
        assert (task["definitionFile"], task["definitionLine"]) == (str(project / "include" / "tasks.py"), 8), task


def test_a_failing_helper_is_at_its_line_related_to_each_importers_import(version, python_for, project, tmp_path):
    for name, line in (("report_a.py", 3), ("report_b.py", 5)):
        [error] = parse(python_for(version), project, name, tmp_path)["importErrors"]
        assert (error["file"], error["line"], error["column"], error["message"]) == (
            str(project / "include" / "db.py"),
            5,
            8,
            "KeyError: 'PGHOST'",
        )
        assert [(r["file"], r["line"]) for r in error["related"]] == [(str(project / "dags" / name), line)]


def test_tracebacks_leave_out_the_harness(version, python_for, project, tmp_path):
    [error] = parse(python_for(version), project, "report_a.py", tmp_path)["importErrors"]
    assert 'include/db.py", line 5' in error["traceback"]
    assert "airflow_runtime_harness" not in error["traceback"], error["traceback"]


def test_a_rejected_dag_argument_is_at_that_argument(version, python_for, project, tmp_path):
    if version.startswith("2."):
        pytest.skip("asset watchers are Airflow 3's")
    result = parse(python_for(version), project, "rejected.py", tmp_path)
    [error] = result["importErrors"]
    assert (error["file"], error["line"], error["column"]) == (str(project / "dags" / "rejected.py"), 25, 14), error
    assert "queue 'orders' has no scheme" in error["message"]
    assert [(r["file"], r["line"]) for r in error["related"]] == [(str(project / "dags" / "rejected.py"), 22)]
    assert "airflow_runtime_harness" not in error["traceback"], error["traceback"]


def test_library_warnings_are_marked_internal(version, python_for, project, tmp_path):
    if version.startswith("3."):
        pytest.skip("Flask AppBuilder (and its warnings) came with Airflow 2")
    warnings = parse(python_for(version), project, "library_warnings.py", tmp_path)["warnings"]
    assert any("_app_ctx_stack" in w["message"] for w in warnings), warnings
    assert all(w.get("internal") for w in warnings), warnings
