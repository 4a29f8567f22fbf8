"""On sys.path through the plugins folder, as Airflow puts it there."""
CHANNEL = "#data"
