"""`run`: one task like `airflow tasks test`, exit codes, env Variables, no process left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import TIMINGS, harness_env

DAG_FILE = Path(__file__).with_name("run_dags") / "run_tasks.py"
MARKER = f"airflow-runtime-daemon-{uuid.uuid4().hex[:12]}"
_runs: dict = {}


def _procs_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
    return found


@pytest.fixture(scope="session")
def runs(version, python_for):
    """The four tasks run at once per version (each run is a full Airflow start: seconds)."""
    if version not in _runs:
        procs = {}
        for task in ("succeed", "fail", "read_variable", "spawn_daemon"):
            argv = [
                str(python_for(version)),
                "-m",
                "airflow_runtime_harness",
                "run",
                "--file",
                str(DAG_FILE),
                "--dag-id",
                "run_tasks",
                "--task-id",
                task,
            ]
            env = harness_env({"AIRFLOW_VAR_RUN_GREETING": "hello-from-env", "DAEMON_MARKER": MARKER + version})
            procs[task] = (time.monotonic(), subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        results = {}
        for task, (started, proc) in procs.items():
            out = proc.communicate(timeout=300)[0].decode(errors="replace")
            results[task] = (proc.returncode, out, time.monotonic() - started)
        _runs[version] = results
    return _runs[version]


def test_run_success(runs, version):
    code, out, seconds = runs["succeed"]
    assert code == 0, out
    assert "RUN-OK-MARKER" in out
    TIMINGS[f"run one task airflow {version} (4 in parallel)"] = f"{seconds:.1f}s"


def test_run_failure(runs):
    code, out, _ = runs["fail"]
    assert code == 1, out
    assert "Traceback" in out and "ValueError: RUN-FAIL-MARKER" in out


def test_run_variable_from_env(runs):
    code, out, _ = runs["read_variable"]
    assert code == 0, out
    assert "VARIABLE=hello-from-env" in out


def test_run_kills_double_forked_daemon(runs, version):
    code, out, _ = runs["spawn_daemon"]
    assert code == 0, out
    assert "DAEMON-SPAWNED" in out
    assert _procs_with(MARKER + version) == [], "a process the task started survived `run`"


def test_run_unknown_ids_exit_2(version, python_for):
    py = str(python_for(version))
    base = [py, "-m", "airflow_runtime_harness", "run", "--file", str(DAG_FILE)]
    proc = subprocess.run(
        base + ["--dag-id", "nope", "--task-id", "x"], env=harness_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "run_tasks" in proc.stderr  # lists what exists
    proc = subprocess.run(
        base + ["--dag-id", "run_tasks", "--task-id", "nope"], env=harness_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "succeed" in proc.stderr and "spawn_daemon" in proc.stderr


def test_a_dag_file_that_does_not_load_is_the_users_failure_said_once_at_its_line(version, python_for, tmp_path):
    """Exit 1 (not a usage error), `path:line:col: error: message` once, and the traceback once (Airflow's own log)."""
    dag = tmp_path / "broken.py"
    dag.write_text("from airflow import DAG\nimport module_that_is_not_here\n")
    argv = [
        str(python_for(version)),
        "-m",
        "airflow_runtime_harness",
        "run",
        "--file",
        str(dag),
        "--dag-id",
        "broken",
        "--task-id",
        "first",
    ]
    proc = subprocess.run(argv, env=harness_env(), capture_output=True, text=True, timeout=300)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1, said
    assert proc.stdout.count(f"{dag}:2:1: error: ModuleNotFoundError: No module named 'module_that_is_not_here'") == 1, said
    assert said.count("Traceback (most recent call last)") == 1, said


def test_the_harness_names_its_temp_folders_for_its_owner(python_for, tmp_path):
    """`airflow-runtime-<kind>-<owner pid>-*`, as the engines name theirs: `cleanup` can tell whose they are."""
    code = "from airflow_runtime_harness import env; print(env.own_temp_dir('home'))"
    made = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=harness_env({"TMPDIR": str(tmp_path), "AIRFLOW_RUNTIME_OWNER": "somehost:4242"}),
    ).stdout.strip()
    assert Path(made).parent == tmp_path and Path(made).name.startswith("airflow-runtime-home-4242-"), made
