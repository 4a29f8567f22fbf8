import datetime

from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("unstable", start_date=datetime.datetime.now(), schedule=None) as dag:
    EmptyOperator(task_id="only")
