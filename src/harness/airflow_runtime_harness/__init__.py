"""Airflow runtime harness: runs inside the DAG's runtime (image or venv).

Standard library only, Python >= 3.9, Airflow 2.9+ and 3.x (version detected at run time).
Verbs: parse, run, serve (see __main__.py).
"""

RESULT_FORMAT = "airflow-runtime/parse-result@1"
