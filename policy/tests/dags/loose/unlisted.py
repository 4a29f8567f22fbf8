from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

with DAG("unlisted", start_date=datetime(2024, 1, 1), schedule=None):
    @task
    def alone():
        pass

    alone()
