import datetime

from _compat import DAG, EmptyOperator

with DAG("cycle", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    c = EmptyOperator(task_id="c")
    a >> b >> c >> a
