# Asset-only: no D-A-G word anywhere, so Airflow 2's heuristic skips it and Airflow 3's keeps it.
from airflow.sdk import asset


@asset(schedule=None)
def raw_orders():
    return 1


@asset(schedule=raw_orders)
def clean_orders():
    return 2
