import datetime

from airflow import DAG
from include.tasks import fetch

with DAG("orders", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    fetch("orders")
