"""On Airflow 2, importing Flask AppBuilder makes Flask, SQLAlchemy and marshmallow warn inside themselves."""
import datetime

from airflow import DAG

try:
    import flask_appbuilder  # noqa: F401
except ImportError:  # Airflow 3 does not ship it
    flask_appbuilder = None

with DAG("library_warnings", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    pass
