"""Another DAG file that needs the database helper."""
import datetime

from airflow import DAG
from include.db import connect

with DAG("report_b", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    connect()
