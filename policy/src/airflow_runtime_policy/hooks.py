"""The cluster policy hooks Airflow loads through the `airflow.policy` entry point.

Failure rules (a broken setting must never pass silently, nor crash the scheduler):
- AIRFLOW_RUNTIME_MANIFEST unset: nothing changes (logged once).
- a manifest or setting that cannot be used (a setting set but empty, duplicate runtime ids or files, a bad
  queue name): `dag_policy` raises AirflowClusterPolicyViolation, so every
  DAG shows the reason as an import error; `task_policy` logs it and leaves the task alone.
- a DAG file not in the manifest: its tasks are left alone (logged once per file); with AIRFLOW_RUNTIME_ID
  set, `dag_policy` rejects it, since no processor can know it parses it in the right runtime.
"""

from __future__ import annotations

import logging

from airflow.policies import hookimpl

from .config import PolicyConfig, load_config
from .manifest import ManifestError, Runtime
from .pods import pod_override

try:
    from airflow.exceptions import AirflowClusterPolicyViolation
except ImportError:  # a later Airflow that keeps it only in the task SDK
    from airflow.sdk.exceptions import AirflowClusterPolicyViolation

log = logging.getLogger(__name__)
_logged: set[str] = set()


def _log_once(level: int, message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        log.log(level, "airflow-runtime-policy: %s", message)


def _config_or_none() -> PolicyConfig | None:
    config = load_config()
    if config is None:
        _log_once(logging.INFO, "AIRFLOW_RUNTIME_MANIFEST is not set: DAGs and tasks are left as they are")
    return config


@hookimpl
def dag_policy(dag) -> None:
    try:
        config = _config_or_none()
    except ManifestError as exc:
        raise AirflowClusterPolicyViolation(f"airflow-runtime-policy: {exc}") from None
    if config is None or config.runtime_id is None:
        return
    relative = config.relative_path(dag.fileloc)
    runtime = config.manifest.runtime_of(relative) if relative else None
    if runtime is None:
        raise AirflowClusterPolicyViolation(
            f"airflow-runtime-policy: DAG file {relative or dag.fileloc} is not in the manifest "
            f"{config.manifest.path}, so this processor (AIRFLOW_RUNTIME_ID={config.runtime_id}) cannot tell "
            "whether it parses it in its own runtime: re-run `airflow-runtime export` and deploy the manifest"
        )
    if runtime.id != config.runtime_id:
        raise AirflowClusterPolicyViolation(
            f"airflow-runtime-policy: DAG file {relative} belongs to runtime {runtime.id} (image {runtime.image}) "
            f"but was parsed by the processor of runtime {config.runtime_id}: parse it in runtime {runtime.id}, "
            "or, if its runtime file changed, re-run `airflow-runtime export` and deploy the manifest"
        )


@hookimpl
def task_policy(task) -> None:
    try:
        config = _config_or_none()
    except ManifestError as exc:
        _log_once(logging.ERROR, f"{exc}; tasks are left as they are")
        return
    if config is None:
        return
    fileloc = _fileloc(task)
    relative = config.relative_path(fileloc) if fileloc else None
    runtime = config.manifest.runtime_of(relative) if relative else None
    if runtime is None:
        _log_once(
            logging.WARNING,
            f"DAG file {relative or fileloc} is not in the manifest {config.manifest.path}: its tasks are left as they are",
        )
        return
    _route(task, runtime, config)


def _fileloc(task) -> str | None:
    try:
        dag = task.dag  # Airflow 3's task SDK raises when the task has no DAG
    except Exception:
        return None
    return getattr(dag, "fileloc", None)


def _route(task, runtime: Runtime, config: PolicyConfig) -> None:
    if config.mode == "celery":
        _set(task, "queue", runtime.queue)
    elif config.mode == "executor":
        if runtime.executor is None:
            return
        if not hasattr(task, "executor"):
            _log_once(
                logging.ERROR,
                "AIRFLOW_RUNTIME_MODE=executor needs Airflow 2.10 or later "
                "(tasks have no executor field): tasks are left as they are",
            )
            return
        _set(task, "executor", runtime.executor)
    else:
        executor_config = dict(task.executor_config or {})
        ours = pod_override(runtime, config.k8s_secret)
        executor_config["pod_override"] = _merge_pods(ours, executor_config.get("pod_override"))
        _set(task, "executor_config", executor_config)


def _merge_pods(ours, theirs):
    """The task's own pod_override wins field by field over the runtime's, as Airflow merges it over the template."""
    if theirs is None:
        return ours
    try:
        from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator
    except ImportError:
        _log_once(
            logging.WARNING,
            "a task has its own pod_override and the cncf.kubernetes provider is not "
            "installed to merge it: the task's pod_override is kept as it is",
        )
        return theirs
    return PodGenerator.reconcile_pods(ours, theirs)


def _set(task, name: str, value) -> None:
    # Mapped tasks keep these in partial_kwargs, and some have no setter
    partial = getattr(task, "partial_kwargs", None)
    if isinstance(partial, dict):
        partial[name] = value
    else:
        setattr(task, name, value)
