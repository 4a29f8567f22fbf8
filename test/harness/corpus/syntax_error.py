import datetime

from _compat import DAG

with DAG("syntax", start_date=datetime.datetime(2024, 1, 1)) as dag:
    x = [1, 2
    y = 3
