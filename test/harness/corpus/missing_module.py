import datetime

from _compat import DAG
import pandas_that_does_not_exist  # noqa: F401

with DAG("missing", start_date=datetime.datetime(2024, 1, 1)) as dag:
    pass
