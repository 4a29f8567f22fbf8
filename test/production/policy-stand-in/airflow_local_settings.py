"""A stand-in for the `airflow-runtime-policy` package until it is on main: the contract's celery mode and
dag_policy (see production-contract in issue 15), as an airflow_local_settings module on PYTHONPATH.

The test mounts it only while no policy wheel is installed in the images; the real package replaces it.
"""

from __future__ import annotations

import json
import os

from airflow.exceptions import AirflowClusterPolicyViolation

__all__ = ["dag_policy", "task_policy"]


def _lookup(fileloc: str) -> tuple[dict | None, str]:
    path = os.environ.get("AIRFLOW_RUNTIME_MANIFEST")
    if not path:
        return None, fileloc
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    dags_folder = os.environ.get("AIRFLOW_RUNTIME_DAGS_FOLDER")
    if not dags_folder:
        from airflow.configuration import conf

        dags_folder = conf.get("core", "dags_folder")
    relative = os.path.relpath(fileloc, dags_folder).replace(os.sep, "/")
    runtime_id = next((f["runtime"] for f in manifest["files"] if f["path"] == relative), None)
    return next((r for r in manifest["runtimes"] if r["id"] == runtime_id), None), relative


def dag_policy(dag) -> None:
    own = os.environ.get("AIRFLOW_RUNTIME_ID")
    if not own or not os.environ.get("AIRFLOW_RUNTIME_MANIFEST"):
        return
    runtime, relative = _lookup(dag.fileloc)
    if runtime is None:
        raise AirflowClusterPolicyViolation(
            f"{relative} is not in the airflow-runtime manifest: run `airflow-runtime export` and deploy it "
            f"(this DAG processor runs runtime {own})"
        )
    if runtime["id"] != own:
        raise AirflowClusterPolicyViolation(
            f"{relative} belongs to runtime {runtime['id']} ({runtime['image']}) but was parsed in runtime {own}"
        )


def task_policy(task) -> None:
    dag = task.dag
    if dag is None or os.environ.get("AIRFLOW_RUNTIME_MODE", "celery") != "celery":
        return
    runtime, _ = _lookup(dag.fileloc)
    if runtime is not None:
        task.queue = runtime["queue"]
