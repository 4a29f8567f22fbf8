"""The executor test's DAGs (test/production/executor.test.ts), put into team A's folder: toolz makes them
importable in team A's image only. Each task waits, through the Execution API, until the test sets the Variable
`release-<run id>`: the test acts while the task is surely running, and never waits on a clock."""

from __future__ import annotations

import hashlib
import os
import time

import toolz  # noqa: F401  (only in team A's image)
from airflow.sdk import Variable, dag, task


def wait_for_release(run_id: str) -> None:
    while Variable.get(f"release-{run_id}", default=None) is None:
        time.sleep(0.5)


def daemon_marker(run_id: str) -> str:
    """What the daemon's command line carries, for the test to find it among the host's processes."""
    return "sleeper-" + hashlib.sha256(run_id.encode()).hexdigest()[:16]


def start_daemon(marker: str) -> None:
    """The classic double fork: the daemon leaves the task's process tree and outlives it, unless its container ends."""
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 65536)
            os.execvp("python", ["python", "-c", "import time; time.sleep(3600)", marker])
        os._exit(0)
    os.waitpid(child, 0)


@dag(dag_id="lifecycle_daemon", schedule=None, catchup=False)
def lifecycle_daemon():
    @task
    def daemon(run_id=None) -> str:
        marker = daemon_marker(run_id)
        start_daemon(marker)
        print("started the daemon", marker, "as uid", os.getuid())
        wait_for_release(run_id)
        return marker

    daemon()


@dag(dag_id="lifecycle_wait", schedule=None, catchup=False)
def lifecycle_wait():
    @task
    def wait(run_id=None) -> str:
        print("waiting for release-" + run_id)
        wait_for_release(run_id)
        return "released"

    wait()


lifecycle_daemon()
lifecycle_wait()
