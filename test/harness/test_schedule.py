"""A DAG's schedule reads the same on Airflow 2 and 3 where the author wrote the same: upgrade-check compares them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

from conftest import harness_env

PROBE = """
import datetime
from airflow_runtime_harness import compat
from airflow import DAG
for schedule in (datetime.timedelta(hours=4), "@daily", None):
    dag = DAG("probe", schedule=schedule, start_date=datetime.datetime(2024, 1, 1))
    print(repr(compat.schedule_of(dag)))
"""


def test_schedules_read_alike(version: str, python_for: Callable[[str], Path]) -> None:
    out = subprocess.run([str(python_for(version)), "-c", PROBE], env=harness_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # Airflow 3's delta timetable has no summary: the delta is said as Airflow 2 says it
    assert out.stdout.split() == ["'4:00:00'", "'@daily'", "None"], out.stdout + out.stderr
