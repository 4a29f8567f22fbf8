"""Lean Celery workers: the stock CeleryExecutor's `execute_workload` task, done by the launcher.

A worker whose image holds Airflow core, the Celery provider and the Docker SDK (none of any DAG's packages) runs
each task it takes in a container of the task's runtime image, and waits for it; one pool of such workers runs
every runtime. The scheduler keeps the stock CeleryExecutor; only the workers are configured so:

    AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=airflow_runtime_policy.celery_worker.CELERY_CONFIG

plus the launcher's settings (launcher.py) and a Docker socket. Celery imports `celery_tasks` when the worker
starts, which puts our `execute_workload` in place of the provider's.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": [*DEFAULT_CELERY_CONFIG.get("imports", ()), "airflow_runtime_policy.celery_tasks"],
}
