import datetime

from _compat import DAG, EmptyOperator

first = DAG("multi_first", start_date=datetime.datetime(2024, 1, 1), schedule=None)
EmptyOperator(task_id="only", dag=first)

with DAG("multi_second", start_date=datetime.datetime(2024, 1, 1), schedule="@hourly") as second:
    x = EmptyOperator(task_id="x")
    y = EmptyOperator(task_id="y")
    x >> y
