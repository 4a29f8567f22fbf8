"""Imports that moved between Airflow 2 and 3 (a helper module in the DAGs folder, not a DAG file)."""
try:
    from airflow.sdk import DAG, BaseOperator, task, task_group  # noqa: F401
    from airflow.providers.standard.operators.bash import BashOperator  # noqa: F401
    from airflow.providers.standard.operators.empty import EmptyOperator  # noqa: F401
except ImportError:
    from airflow import DAG  # noqa: F401
    from airflow.decorators import task, task_group  # noqa: F401
    from airflow.models.baseoperator import BaseOperator  # noqa: F401
    from airflow.operators.bash import BashOperator  # noqa: F401
    from airflow.operators.empty import EmptyOperator  # noqa: F401
