import datetime

from _compat import DAG, EmptyOperator, TaskGroup, task, task_group

with DAG("groups", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    begin = EmptyOperator(task_id="begin")
    with TaskGroup("section") as section:
        inner_a = EmptyOperator(task_id="a")
        inner_b = EmptyOperator(task_id="b")
        inner_a >> inner_b

    @task_group(group_id="decorated_group")
    def decorated_group():
        @task
        def step():
            return 1

        step()

    finish = EmptyOperator(task_id="finish")
    begin >> section >> decorated_group() >> finish
