"""A DAG file whose runtime names an image that does not exist (airflow dag)."""
