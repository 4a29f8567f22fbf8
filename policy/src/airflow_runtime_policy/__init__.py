"""Route each DAG file's tasks to its runtime, as the airflow-runtime manifest says.

Airflow loads `hooks` through the `airflow.policy` entry point; the rest is plain Python
that reads the manifest and the environment.
"""

__version__ = "0.1.0"
