"""Runs inside an Airflow venv: load DAG folders with Airflow's own DagBag and print, as JSON, which policy
plugins Airflow loaded and what every task looks like afterwards.

argv[1]: {"bags": [{"folder": path, "bundle": name}], "pod_template": path or null}
"""

import json
import sys

request = json.loads(sys.argv[1])

import airflow  # noqa: E402
from airflow import settings  # noqa: E402

AIRFLOW3 = airflow.__version__.startswith("3.")


def policy_plugins() -> list:
    getter = getattr(settings, "get_policy_plugin_manager", None)  # Airflow 3; a module global on 2.x
    manager = getter() if getter else settings.POLICY_PLUGIN_MANAGER
    return [
        {"name": manager.get_name(plugin), "module": getattr(plugin, "__name__", None), "distribution": dist.metadata["name"]}
        for plugin, dist in manager.list_plugin_distinfo()
    ]


def load_bag(folder: str, bundle: str):
    if AIRFLOW3:  # as the DAG processor parses one bundle
        from airflow.dag_processing.dagbag import BundleDagBag

        return BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name=bundle, load_op_links=False, safe_mode=False)
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=folder, include_examples=False, safe_mode=False, read_dags_from_db=False, load_op_links=False)


def round_trip(dag):
    """The DAG as the scheduler sees it: through Airflow's serializer and back."""
    from airflow.serialization import serialized_objects as so

    serializer = getattr(so, "DagSerialization", None) or so.SerializedDAG
    return serializer.from_dict(json.loads(json.dumps(serializer.to_dict(dag))))


def to_dict(pod):
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(pod) if pod is not None else None


def constructed_pod(dag, task, template: str):
    """The worker pod Airflow's KubernetesExecutor would create for this task."""
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    return PodGenerator.construct_pod(
        dag_id=dag.dag_id,
        task_id=task.task_id,
        pod_id="probe",
        try_number=1,
        kube_image="apache/airflow:executor-default",
        date=None,
        args=["airflow", "tasks", "run"],
        pod_override_object=task.executor_config.get("pod_override"),
        base_worker_pod=PodGenerator.deserialize_model_file(template),
        namespace="airflow",
        scheduler_job_id="1",
        run_id="manual",
    )


def describe(dag, template):
    scheduled = round_trip(dag) if template else None
    tasks = {}
    for task in dag.tasks:
        pod = task.executor_config.get("pod_override") if isinstance(task.executor_config, dict) else None
        tasks[task.task_id] = {
            "queue": task.queue,
            "executor": getattr(task, "executor", None),
            "pod_override": to_dict(pod) if pod is not None else None,
        }
        if template and scheduled is not None:
            tasks[task.task_id]["pod"] = to_dict(constructed_pod(scheduled, scheduled.get_task(task.task_id), template))
    return {"fileloc": dag.fileloc, "tasks": tasks}


report = {"airflow": airflow.__version__, "plugins": policy_plugins(), "dags": {}, "import_errors": {}}
for bag_request in request["bags"]:
    bag = load_bag(bag_request["folder"], bag_request["bundle"])
    report["import_errors"].update({str(k): v for k, v in bag.import_errors.items()})
    for dag_id, dag in bag.dags.items():
        report["dags"][dag_id] = describe(dag, request.get("pod_template"))
print("PROBE " + json.dumps(report))
