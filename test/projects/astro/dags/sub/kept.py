"""An Airflow DAG in a sub-folder, built by a helper of include/."""
import datetime

from include.helpers import START, chained

from _compat import DAG

with DAG("kept", start_date=START, schedule=None, tags=["astro"]) as dag:
    chained(dag, "step", 2)
