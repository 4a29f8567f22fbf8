"""Shared code of the Astro project, imported by DAG files as include.helpers."""
import datetime

try:
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.bash import BashOperator
    from airflow.operators.empty import EmptyOperator

START = datetime.datetime(2024, 1, 1)


def extract(task_id: str):
    return BashOperator(task_id=task_id, bash_command="echo extract")


def chained(dag, prefix: str, count: int):
    previous = None
    for i in range(count):
        current = EmptyOperator(task_id=f"{prefix}_{i}", dag=dag)
        if previous is not None:
            previous >> current
        previous = current
    return previous
