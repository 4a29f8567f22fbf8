"""Imports that exist in both Airflow 2.x and 3.x, so every corpus file has stable line numbers."""
try:  # Airflow 3
    from airflow.sdk import DAG, TaskGroup, dag, task, task_group
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.utils.task_group import TaskGroup
    from airflow.decorators import dag, task, task_group
    from airflow.operators.bash import BashOperator
    from airflow.operators.empty import EmptyOperator
    from airflow.operators.python import PythonOperator

__all__ = ["DAG", "TaskGroup", "dag", "task", "task_group", "BashOperator", "EmptyOperator", "PythonOperator"]
