import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.timetables.interval import CronDataIntervalTimetable


class TeamTimetable(CronDataIntervalTimetable):
    """Not registered by a plugin: the serializer refuses it."""


with DAG("bad_serialize", start_date=datetime.datetime(2024, 1, 1),
         schedule=TeamTimetable("@daily", timezone="UTC")) as dag:
    EmptyOperator(task_id="fine")
