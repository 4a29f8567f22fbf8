"""A DAG file whose image cannot be pulled (airflow dag)."""
