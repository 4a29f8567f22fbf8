"""Nothing a DAG file starts outlives its parse, and a harness ends with its owner; a DAG that ends the
parsing process is told at its line. Processes are found by a marker unique to each test (a sleep of an
odd length), never by a common name."""

from __future__ import annotations

import json
import os
import subprocess
import time

from conftest import harness_env

DAEMON = '''
import os, time
from airflow import DAG
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{marker}"])
    os._exit(0)
time.sleep(0.3)
'''


def _running(marker: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fh.read().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                        out.append(int(entry))
            except OSError:
                pass
    return out


def _marker() -> str:
    return f"{os.getpid()}{int(time.time() * 1000) % 100000}"


def test_a_double_forked_daemon_is_killed_after_a_cold_parse(version, python_for, tmp_path):
    marker = _marker()
    dag = tmp_path / "daemon.py"
    dag.write_text(DAEMON.format(marker=marker))
    done = subprocess.run(
        [
            str(python_for(version)),
            "-m",
            "airflow_runtime_harness",
            "parse",
            "--file",
            str(dag),
            "--dags-folder",
            str(tmp_path),
            "--out",
            str(tmp_path / "out.json"),
        ],
        env=harness_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    time.sleep(0.2)
    assert _running(marker) == [], "the daemon survived the parse"


def test_a_double_forked_daemon_is_killed_after_a_warm_parse(version, python_for, tmp_path):
    marker = _marker()
    dag = tmp_path / "daemon.py"
    dag.write_text(DAEMON.format(marker=marker))
    proc = subprocess.Popen(
        [str(python_for(version)), "-m", "airflow_runtime_harness", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=harness_env(),
        text=True,
        bufsize=1,
    )
    try:
        assert json.loads(proc.stdout.readline())["ready"]
        proc.stdin.write(json.dumps({"id": 1, "file": str(dag), "dagsFolder": str(tmp_path), "timeout": 60}) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        assert reply["ok"] and reply["importErrors"] == 0, reply
        time.sleep(0.3)
        assert _running(marker) == [], "the daemon survived the parse, the server still up"
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_os_exit_at_import_is_an_import_error_at_its_line(version, python_for, tmp_path):
    dag = tmp_path / "exits.py"
    dag.write_text("import os\nfrom airflow import DAG\n\nos._exit(7)\n")
    out = tmp_path / "out.json"
    done = subprocess.run(
        [
            str(python_for(version)),
            "-m",
            "airflow_runtime_harness",
            "parse",
            "--file",
            str(dag),
            "--dags-folder",
            str(tmp_path),
            "--out",
            str(out),
        ],
        env=harness_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    [error] = json.loads(out.read_text())["importErrors"]
    assert (error["line"], error["message"].split(":")[0]) == (4, "SystemExit"), error
    assert "os._exit(7)" in error["message"]


def test_serve_ends_at_once_when_its_owner_is_gone(version, python_for, tmp_path):
    """With AIRFLOW_RUNTIME_OWNER_STDIN=1 (the engines), the end of stdin means the owner died: a parse in
    flight is abandoned and its child killed, instead of finishing for nobody."""
    marker = _marker()
    dag = tmp_path / "hang.py"
    dag.write_text(f"import subprocess\nfrom airflow import DAG\nsubprocess.run(['sleep', '{marker}'])\n")
    proc = subprocess.Popen(
        [str(python_for(version)), "-m", "airflow_runtime_harness", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=harness_env({"AIRFLOW_RUNTIME_OWNER_STDIN": "1"}),
        text=True,
        bufsize=1,
    )
    try:
        assert json.loads(proc.stdout.readline())["ready"]
        proc.stdin.write(json.dumps({"id": 1, "file": str(dag), "dagsFolder": str(tmp_path), "timeout": 600}) + "\n")
        proc.stdin.flush()
        for _ in range(100):
            if _running(marker):
                break
            time.sleep(0.1)
        assert _running(marker), "the DAG file never started"
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        time.sleep(0.2)
        assert _running(marker) == []
    finally:
        proc.kill()


def test_a_parse_ends_with_its_owner(version, python_for, tmp_path):
    """`parse` and `run` with AIRFLOW_RUNTIME_OWNER_STDIN=1 watch their stdin: its end (the owner killed,
    even with SIGKILL) ends them and everything they started."""
    marker = _marker()
    dag = tmp_path / "hang.py"
    dag.write_text(f"import subprocess\nfrom airflow import DAG\nsubprocess.run(['sleep', '{marker}'])\n")
    proc = subprocess.Popen(
        [
            str(python_for(version)),
            "-m",
            "airflow_runtime_harness",
            "parse",
            "--file",
            str(dag),
            "--dags-folder",
            str(tmp_path),
            "--out",
            str(tmp_path / "out.json"),
            "--timeout",
            "600",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=harness_env({"AIRFLOW_RUNTIME_OWNER_STDIN": "1"}),
    )
    try:
        for _ in range(300):
            if _running(marker):
                break
            time.sleep(0.1)
        assert _running(marker), "the DAG file never started"
        proc.stdin.close()
        # 2 from the watcher, or 1 when the parse saw its child killed first: nobody reads it either way
        assert proc.wait(timeout=10) in (1, 2)
        time.sleep(0.2)
        assert _running(marker) == []
    finally:
        proc.kill()
