"""Tasks whose templated fields `render` shows: a date, params and a Variable, a broken template, a mapped task."""
from datetime import datetime

from airflow import DAG

try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

with DAG(dag_id="render_tasks", schedule=None, start_date=datetime(2024, 1, 1), params={"region": "emea"}):
    BashOperator(task_id="dated", bash_command="echo {{ ds }} {{ params.region }} {{ var.value.render_greeting }}",
                 env={"DAY": "{{ ds_nodash }}"})
    BashOperator(task_id="undefined", bash_command="echo {{ no_such_value.here }}")
    BashOperator(task_id="bad_syntax", bash_command="echo {{ ds }", env={"OK": "{{ ds }}"})
    BashOperator.partial(task_id="mapped").expand(bash_command=["echo first {{ ds }}", "echo second {{ ds }}"])
