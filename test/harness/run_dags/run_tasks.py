"""DAG for the `run` tests: success, failure, a Variable from the env, a double-forked daemon."""
import datetime
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "corpus"))
from _compat import DAG, PythonOperator  # noqa: E402

try:
    from airflow.sdk import Variable
except ImportError:
    from airflow.models import Variable


def succeed():
    print("RUN-OK-MARKER")


def fail():
    raise ValueError("RUN-FAIL-MARKER")


def read_variable():
    print("VARIABLE=" + Variable.get("run_greeting"))


def spawn_daemon():
    marker = os.environ["DAEMON_MARKER"]
    # double fork + setsid: the sleep is re-parented away from the task (to us, the subreaper)
    subprocess.run(["bash", "-c", f"( setsid bash -c 'exec -a {marker} sleep 300' </dev/null >/dev/null 2>&1 & ) ; exit 0"],
                   check=True)
    print("DAEMON-SPAWNED")


with DAG("run_tasks", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    PythonOperator(task_id="succeed", python_callable=succeed)
    PythonOperator(task_id="fail", python_callable=fail)
    PythonOperator(task_id="read_variable", python_callable=read_variable)
    PythonOperator(task_id="spawn_daemon", python_callable=spawn_daemon)
