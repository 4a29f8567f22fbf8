"""Tasks for the engine tests: one passes, one fails, one hangs after starting a daemon."""
import os
import subprocess
import time
from datetime import datetime

from airflow import DAG
from airflow.operators.python import PythonOperator


def succeed():
    print("the task ran, variable=" + os.environ.get("AIRFLOW_VAR_GREETING", "unset"))


def fail():
    raise ValueError("this task fails on purpose")


def hang():
    marker = os.environ.get("HANG_MARKER", "airflow-runtime-hang")
    # A double-forked daemon: it leaves the task's process tree, and must still be gone afterwards.
    subprocess.Popen(["/bin/bash", "-c", f"(exec -a {marker} sleep 300 &) ; true"])
    print("hang: started", flush=True)
    time.sleep(300)


with DAG(dag_id="engine_tasks", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="succeed", python_callable=succeed)
    PythonOperator(task_id="fail", python_callable=fail)
    PythonOperator(task_id="hang", python_callable=hang)
