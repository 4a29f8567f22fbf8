"""On sys.path through AIRFLOW_HOME/config, as Airflow puts it there."""
OWNER = "data-team"
