"""This DAG fails to import: its runtime does not have pandas. Parse it to see the error at line 6."""
from datetime import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.python import PythonOperator
import pandas as pd


def sync_inventory():
    print(pd.DataFrame({"sku": ["a", "b"]}))


with DAG(dag_id="inventory_sync", schedule=None, start_date=datetime(2024, 1, 1), tags=["team-b"]) as dag:
    PythonOperator(task_id="sync", python_callable=sync_inventory)
