"""Prints 100 MB while importing, then defines a DAG: the output is capped, the result intact."""
import sys
from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator

line = "x" * 1023 + "\n"
for _ in range(100 * 1024):
    sys.stdout.write(line)

with DAG(dag_id="loud", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    EmptyOperator(task_id="quiet_task")
