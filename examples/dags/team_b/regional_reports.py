"""Dynamic task mapping on Airflow 3: one report per region, known only at run time."""
from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False, tags=["team-b", "reports"])
def regional_reports():
    @task
    def list_regions() -> list[str]:
        return ["emea", "amer", "apac"]

    @task
    def build_report(region: str) -> str:
        print(f"building the {region} report")
        return f"reports/{region}.csv"

    @task
    def notify(paths: list[str]) -> None:
        print(f"{len(paths)} reports ready")

    notify(build_report.expand(region=list_regions()))


regional_reports()
