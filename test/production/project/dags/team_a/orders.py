"""Team A's DAG. It imports toolz, which only team A's image has: parsed anywhere else it is an import error.

At parse time it tags itself with the marker file of the image that parsed it; each task returns, as its
XCom, what it sees of the image it runs in.
"""

from __future__ import annotations

import pathlib

import toolz  # noqa: F401  (only in team A's image)
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


@dag(dag_id="team_a_orders", schedule=None, catchup=False, tags=["team-a", f"parsed-in:{PARSED_IN}"])
def team_a_orders():
    @task
    def extract() -> dict:
        print("team A extract ran in", where())
        return where()

    @task
    def load(upstream: dict) -> dict:
        return where()

    load(extract())


team_a_orders()
