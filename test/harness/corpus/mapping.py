import datetime

from _compat import DAG, BashOperator, task

with DAG("mapping", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def double(n):
        return n * 2

    doubled = double.expand(n=numbers())
    echo = BashOperator.partial(
        task_id="echo",
    ).expand(bash_command=["echo 1", "echo 2"])
    doubled >> echo
