"""Classic operators: extract, transform and load orders every day."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator


def transform_orders(**context):
    print(f"transforming orders for {context['ds']}")


with DAG(
    dag_id="orders_etl",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["team-a", "orders"],
    default_args={"owner": "team-a"},
) as dag:
    start = EmptyOperator(task_id="start")
    extract = BashOperator(task_id="extract", bash_command="echo extracting orders for {{ ds }}")
    transform = PythonOperator(task_id="transform", python_callable=transform_orders)
    load = BashOperator(task_id="load", bash_command="echo loading orders")

    start >> extract >> transform >> load
