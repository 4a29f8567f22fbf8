import datetime

from _compat import DAG, EmptyOperator

with DAG("duplicate", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    EmptyOperator(task_id="same")
    EmptyOperator(task_id="same")
