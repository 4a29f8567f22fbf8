"""The harness's own DAG file, parsed by `serve` before it forks (see warmup.py). Uses what most DAG
files use, through import paths that raise no deprecation warning, and has no side effects."""

import datetime

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, TaskGroup, dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task
    from airflow.models.dag import DAG
    from airflow.operators.bash import BashOperator
    from airflow.operators.empty import EmptyOperator
    from airflow.operators.python import PythonOperator
    from airflow.utils.task_group import TaskGroup


def _noop(**_):
    return None


with DAG(
    dag_id="harness_warmup_classic",
    schedule="@daily",
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    tags=["harness"],
    params={"n": 1},
    default_args={"retries": 1},
):
    first = BashOperator(task_id="bash", bash_command="echo {{ ds }}")
    second = PythonOperator(task_id="python", python_callable=_noop, op_kwargs={"x": 1})
    with TaskGroup("group"):
        inner = EmptyOperator(task_id="empty")
    mapped = BashOperator.partial(task_id="mapped").expand(bash_command=["echo 1", "echo 2"])
    first >> second >> inner >> mapped


@dag(dag_id="harness_warmup_decorated", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)
def harness_warmup_decorated():
    @task
    def numbers():
        return [1, 2]

    @task
    def double(n):
        return 2 * n

    double.expand(n=numbers())


harness_warmup_decorated()
