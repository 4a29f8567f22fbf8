"""The Celery task a lean worker runs (see celery_worker.py): the workload in its runtime's container."""

from __future__ import annotations

import logging
import os
import socket

from airflow.configuration import conf
from airflow.providers.celery.executors.celery_executor_utils import app

from .launcher import Launcher, LauncherError, settings_from_env

log = logging.getLogger(__name__)
_launcher: Launcher | None = None


def _the_launcher() -> Launcher:
    # one per pool process: a Docker client must not cross a fork
    global _launcher
    if _launcher is None or _launcher.pid != os.getpid():
        _launcher = Launcher(settings_from_env())
        _launcher.pid = os.getpid()
    return _launcher


app.tasks.pop("execute_workload", None)


@app.task(name="execute_workload")
def execute_workload(input: str) -> None:
    from airflow.executors.workloads import ExecuteTask
    from pydantic import TypeAdapter

    workload = TypeAdapter(ExecuteTask).validate_json(input)
    log.info("Launching %s in its runtime's container", workload.ti.key)
    # the worker's Celery node name (`name@host`): workers on one host network share the host name
    worker = getattr(app.current_task.request, "hostname", None) or socket.gethostname()
    code = _the_launcher().run(workload, os.path.expanduser(conf.get("logging", "base_log_folder")), launched_by=worker)
    if code != 0:
        raise LauncherError(f"the container of {workload.ti.dag_id}.{workload.ti.task_id} exited with {code}")
