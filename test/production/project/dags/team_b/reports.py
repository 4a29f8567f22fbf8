"""Team B's DAG. It imports emoji, which only team B's image has: parsed anywhere else it is an import error.

At parse time it tags itself with the marker file of the image that parsed it; each task returns, as its
XCom, what it sees of the image it runs in.
"""

from __future__ import annotations

import pathlib

import emoji  # noqa: F401  (only in team B's image)
from airflow.sdk import dag, task

MARKER = pathlib.Path("/opt/airflow-runtime/marker")
PARSED_IN = MARKER.read_text().strip() if MARKER.exists() else "no-marker"


def where() -> dict:
    import importlib.metadata
    import os

    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "marker": MARKER.read_text().strip() if MARKER.exists() else None,
        "packages": {name: version(name) for name in ("toolz", "emoji")},
        "runtimeId": os.environ.get("AIRFLOW_RUNTIME_ID"),
    }


@dag(dag_id="team_b_reports", schedule=None, catchup=False, tags=["team-b", f"parsed-in:{PARSED_IN}"])
def team_b_reports():
    @task
    def collect() -> dict:
        print("team B collect ran in", where())
        return where()

    @task
    def publish(upstream: dict) -> dict:
        return where()

    publish(collect())


team_b_reports()
