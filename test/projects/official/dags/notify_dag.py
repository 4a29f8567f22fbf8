import datetime

from notify import CHANNEL
from team_settings import OWNER

from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator

with DAG("notify", start_date=datetime.datetime(2024, 1, 1), schedule=None, default_args={"owner": OWNER}) as dag:
    BashOperator(task_id="post", bash_command=f"echo {CHANNEL}")
