import datetime

from _compat import dag, task


@dag(
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    tags=["corpus"],
)
def decorated():
    @task
    def extract():
        return {"a": 1}

    @task(retries=2)
    def transform(data):
        return data

    @task
    def load(data):
        print(data)

    load(transform(extract()))


decorated()
