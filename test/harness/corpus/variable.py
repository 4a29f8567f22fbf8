import datetime

from _compat import DAG, EmptyOperator

try:
    from airflow.sdk import Variable
except ImportError:
    from airflow.models import Variable

environment = Variable.get("corpus_env")

with DAG(f"variable_{environment}", start_date=datetime.datetime(2024, 1, 1), schedule=None) as dag:
    EmptyOperator(task_id="uses_variable")
