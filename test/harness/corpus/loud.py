import datetime
import sys

from _compat import DAG, EmptyOperator

for i in range(50000):
    print("x" * 100, i)
sys.stderr.write("e" * 1000000)

with DAG("loud", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    EmptyOperator(task_id="quiet_task")
