"""Runs once by itself under `airflow-runtime up`. Tagged with the marker of the image that parsed it; its task
returns the marker of the image it ran in (the test image has none)."""

from __future__ import annotations

import pathlib

from airflow.sdk import dag, task

MARKER = pathlib.Path("/opt/airflow-runtime/marker")


def marker() -> str:
    return MARKER.read_text().strip() if MARKER.exists() else "no-marker"


@dag(dag_id="up_plain", schedule="@once", catchup=False, tags=[f"parsed-in:{marker()}"])
def up_plain():
    @task
    def where() -> str:
        print("ran in", marker())
        return marker()

    where()


up_plain()
