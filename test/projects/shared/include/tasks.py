"""A @task shared by several DAG files, each calling it once."""
try:
    from airflow.sdk import task
except ImportError:
    from airflow.decorators import task


@task
def fetch(source: str):
    return source
