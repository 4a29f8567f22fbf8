"""The ETL DAG of the Astro project (Airflow)."""
from greetings import GreetOperator
from include.helpers import START, extract

from _compat import DAG, BaseOperator, EmptyOperator, task, task_group


class LocalOperator(BaseOperator):
    """An operator class defined in the DAG file itself."""

    def __init__(self, note: str, **kwargs):
        super().__init__(**kwargs)
        self.note = note

    def execute(self, context):
        return self.note


@task
def shout(word: str):
    return word.upper()


with DAG("etl", start_date=START, schedule="@daily", tags=["astro", "etl"]) as dag:
    pull = extract("extract")
    greet = GreetOperator(task_id="greet", name="astro")
    local = LocalOperator(
        task_id="local",
        note="made here",
    )
    first = shout.override(task_id="shout_a")("a")
    second = shout.override(task_id="shout_b")("b")
    third = shout.override(task_id="shout_c")("c")

    @task_group
    def finish():
        for name in ("x", "y"):
            EmptyOperator(task_id=f"done_{name}")

    pull >> greet >> local >> [first, second, third] >> finish()
