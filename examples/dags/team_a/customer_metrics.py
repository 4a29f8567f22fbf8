"""TaskFlow API with a TaskGroup: compute customer metrics."""
from datetime import datetime

from airflow.decorators import dag, task, task_group


@dag(schedule="@hourly", start_date=datetime(2024, 1, 1), catchup=False, tags=["team-a"])
def customer_metrics():
    @task
    def fetch_customers() -> list[str]:
        return ["ada", "grace", "linus"]

    @task_group(group_id="metrics")
    def metrics(customers: list[str]):
        @task
        def count(customers: list[str]) -> int:
            return len(customers)

        @task
        def longest_name(customers: list[str]) -> str:
            return max(customers, key=len)

        return [count(customers), longest_name(customers)]

    @task
    def publish(results) -> None:
        print(f"publishing {results}")

    publish(metrics(fetch_customers()))


customer_metrics()
