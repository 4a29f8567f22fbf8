import datetime

from airflow import DAG

from include.tasks import fetch

with DAG("customers", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    first = fetch("crm")
