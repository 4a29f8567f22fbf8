# Tests of an Astro project mention airflow and dag, but live outside dags/: never DAG files.
from airflow.models import DagBag  # noqa: F401

raise RuntimeError("the tests folder must not be parsed")
