"""A task that outlives its runtime's 5 s deadline."""
import time
from datetime import datetime

from airflow import DAG
from airflow.operators.python import PythonOperator

with DAG(dag_id="slow", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="sleep", python_callable=lambda: time.sleep(300))
