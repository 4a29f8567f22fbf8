import datetime

from _compat import DAG
from helpers.broken import settings

with DAG("helper_error", start_date=datetime.datetime(2024, 1, 1), default_args=settings()) as dag:
    pass
