"""The task launcher: an Airflow 3 `ExecuteTask` workload run in a container of its runtime's image.

The container runs `python -m airflow.sdk.execution_time.execute_workload` (as the Kubernetes and Edge executors
do): Airflow's own supervisor, talking to the Execution API with the workload's token. It is hardened as the
manifest's `container` section says (written by `airflow-runtime export` from the rule our parse and run
containers follow), sees its DAG bundle read-only, and is labelled so that the executor, `down` and tests find
it. When its first process ends, the container ends, and with it every process the task started.

Settings come from the environment of the process that launches (the scheduler, a Celery worker):
  AIRFLOW_RUNTIME_MANIFEST            the manifest's path, as this process sees it
  AIRFLOW_RUNTIME_EXECUTION_API_URL   the Execution API as task containers reach it
  AIRFLOW_RUNTIME_DOCKER_NETWORK      the network task containers join (default: Docker's default bridge)
  AIRFLOW_RUNTIME_BUNDLE_SOURCES      JSON {bundle name: host path}: bound read-only at the bundle's own path
  AIRFLOW_RUNTIME_LOGS_SOURCE         host path (or volume) of the task log folder, bound at the same folder
  AIRFLOW_RUNTIME_DEPLOYMENT          the value of every task container's `airflow-runtime.deployment` label
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .manifest import ContainerRules, Manifest, ManifestError, Runtime, read_manifest

if TYPE_CHECKING:
    import docker
    from airflow.executors.workloads import ExecuteTask

LABEL_DEPLOYMENT = "airflow-runtime.deployment"
LABEL_TASK = "airflow-runtime.task"
LABEL_RUNTIME = "airflow-runtime.runtime"
LABEL_TI = "airflow-runtime.ti-id"
LABEL_DAG = "airflow-runtime.dag-id"
LABEL_TASK_ID = "airflow-runtime.task-id"
LABEL_RUN = "airflow-runtime.run-id"
LABEL_MAP_INDEX = "airflow-runtime.map-index"
LABEL_TRY = "airflow-runtime.try-number"

COMMAND = ("python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string")
LABEL_LAUNCHED_BY = "airflow-runtime.launched-by"
# The command ("$@") in the background, ended when stdin closes: a Celery worker holds the container's stdin open
# while it waits, so a worker killed mid-task (kill -9 too) takes its task's container with it. A background job
# of a non-interactive shell reads /dev/null unless told otherwise: stdin goes to the watcher through fd 3.
TIED = (
    'exec 3<&0; "$@" </dev/null 3<&- & task=$!; '
    '(cat <&3 >/dev/null; kill -TERM "$task"; sleep 10; kill -KILL "$task") 2>/dev/null & '
    'exec 3<&-; wait "$task"'
)
# Docker's names allow these; anything else in a deployment name would make a label filter mean something else
_DEPLOYMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class LauncherError(Exception):
    """A task cannot be launched; the message says why, for a person (the task fails with it)."""


@dataclass(frozen=True)
class LauncherSettings:
    manifest_path: str
    execution_api_url: str
    deployment: str
    network: str | None = None
    bundle_sources: Mapping[str, str] = field(default_factory=dict)
    logs_source: str | None = None


def settings_from_env(environ: Mapping[str, str] = os.environ) -> LauncherSettings:
    """The launcher's settings, or LauncherError naming the variable that is missing or wrong."""

    def get(name: str, what: str, required: bool = True) -> str | None:
        value = environ.get(name)
        if value is not None and not value.strip():
            raise LauncherError(f"{name} is set but empty: set it to {what}, or unset it")
        if value is None and required:
            raise LauncherError(f"{name} is not set: set it to {what}")
        return value.strip() if value is not None else None

    manifest_path = get("AIRFLOW_RUNTIME_MANIFEST", "the path of the manifest `airflow-runtime export` wrote")
    api = get(
        "AIRFLOW_RUNTIME_EXECUTION_API_URL",
        "the Execution API URL as task containers reach it, e.g. http://api-server:8080/execution/",
    )
    deployment = get("AIRFLOW_RUNTIME_DEPLOYMENT", "a name for this deployment (a label of its task containers)")
    assert manifest_path is not None and api is not None and deployment is not None
    if not re.match(r"https?://", api):
        raise LauncherError(f"AIRFLOW_RUNTIME_EXECUTION_API_URL={api!r} is not an http(s) URL")
    if not _DEPLOYMENT_NAME.fullmatch(deployment):
        raise LauncherError(
            f"AIRFLOW_RUNTIME_DEPLOYMENT={deployment[:80]!r} is not a name (letters, digits, _, . and -, at most 128 characters)"
        )
    sources_text = get("AIRFLOW_RUNTIME_BUNDLE_SOURCES", "a JSON object {bundle name: host path}", required=False)
    sources: dict[str, str] = {}
    if sources_text is not None:
        try:
            parsed = json.loads(sources_text)
        except ValueError as exc:
            raise LauncherError(f"AIRFLOW_RUNTIME_BUNDLE_SOURCES is not JSON: {exc}") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) and v.startswith("/") for v in parsed.values()):
            raise LauncherError("AIRFLOW_RUNTIME_BUNDLE_SOURCES must be a JSON object of bundle names to absolute host paths")
        sources = {str(k): v for k, v in parsed.items()}
    return LauncherSettings(
        manifest_path=manifest_path,
        execution_api_url=api,
        deployment=deployment,
        network=get("AIRFLOW_RUNTIME_DOCKER_NETWORK", "a Docker network name", required=False),
        bundle_sources=sources,
        logs_source=get("AIRFLOW_RUNTIME_LOGS_SOURCE", "the host path of the task log folder", required=False),
    )


@dataclass(frozen=True)
class BundlePlace:
    """A DAG bundle as the launching process configures it (its Airflow config entry) and where its files are."""

    name: str
    config: Mapping[str, Any]
    path: str
    host_path: str


@dataclass(frozen=True)
class TaskContainer:
    """Everything Docker is told about a task's container: built without Docker, so it can be read and tested."""

    name: str
    image: str
    command: list[str]
    environment: dict[str, str]
    labels: dict[str, str]
    user: str | None
    binds: dict[str, dict[str, str]]
    host_config: dict[str, Any]
    network: str | None


def runtime_of(workload: ExecuteTask, manifest: Manifest) -> Runtime:
    """The runtime whose bundle holds the workload's DAG; else the one the manifest gives its file."""
    bundle = workload.bundle_info.name
    for runtime in manifest.runtimes.values():
        if bundle in runtime.bundles:
            return runtime
    runtime = manifest.runtime_of(str(workload.dag_rel_path))
    if runtime is None:
        raise LauncherError(
            f"the DAG of task {workload.ti.dag_id}.{workload.ti.task_id} (bundle {bundle!r}, file "
            f"{workload.dag_rel_path}) is in no runtime of the manifest {manifest.path}: re-run "
            "`airflow-runtime export` and deploy the manifest"
        )
    return runtime


def bundle_place(name: str, settings: LauncherSettings) -> BundlePlace:
    """The bundle `name` from this process's `[dag_processor] dag_bundle_config_list`."""
    from airflow.configuration import conf

    entries = conf.getjson("dag_processor", "dag_bundle_config_list") or []
    if not isinstance(entries, list):
        raise LauncherError("[dag_processor] dag_bundle_config_list is not a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            kwargs = entry.get("kwargs") or {}
            path = kwargs.get("path") or os.path.expanduser(conf.get("core", "dags_folder"))
            if not isinstance(path, str) or not path.startswith("/"):
                raise LauncherError(
                    f"bundle {name!r} has no absolute path in [dag_processor] dag_bundle_config_list "
                    "(the launcher binds local bundles only)"
                )
            return BundlePlace(name, entry, path, settings.bundle_sources.get(name, path))
    raise LauncherError(f"bundle {name!r} is not in this process's [dag_processor] dag_bundle_config_list")


def container_name(workload: ExecuteTask, deployment: str) -> str:
    """Readable and unique per try: Docker refuses a second container of one name (a launch done twice)."""
    ti = workload.ti
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{ti.dag_id}.{ti.task_id}")[:80].strip("-.") or "task"
    return f"{deployment}-{readable}-{ti.id}"


def task_container(
    workload: ExecuteTask,
    runtime: Runtime,
    bundle: BundlePlace,
    settings: LauncherSettings,
    log_folder: str,
    image_user: str | None,
    environ: Mapping[str, str] = os.environ,
    launched_by: str | None = None,
) -> TaskContainer:
    """The container spec of one task: hardening from the manifest, the bundle read-only, the Execution API."""
    rules = runtime.container
    if rules is None:
        raise LauncherError(
            f"runtime {runtime.id} of the manifest {settings.manifest_path} has no `container` "
            "section (an older export): re-run `airflow-runtime export` and deploy the manifest"
        )
    ti = workload.ti
    environment: dict[str, str] = {}
    missing = []
    for name, value in runtime.env.items():
        if value is None:  # a secret: the deployment supplies it to the launching process
            if name in environ:
                environment[name] = environ[name]
            else:
                missing.append(name)
        else:
            environment[name] = value
    if missing:
        raise LauncherError(
            f"runtime {runtime.id} needs the secret{'s' if len(missing) > 1 else ''} "
            f"{', '.join(sorted(missing))}: set {'them' if len(missing) > 1 else 'it'} in the "
            "environment of the scheduler (or worker) that launches its tasks"
        )
    user, user_env = _user(rules, image_user)
    environment.update(user_env)
    environment.update(
        {
            "AIRFLOW_RUNTIME_ID": runtime.id,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": settings.execution_api_url,
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([bundle.config]),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": log_folder,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    binds = {bundle.host_path: {"bind": bundle.path, "mode": "ro"}}
    if settings.logs_source:
        binds[settings.logs_source] = {"bind": log_folder, "mode": "rw"}
    labels = {
        LABEL_DEPLOYMENT: settings.deployment,
        LABEL_TASK: "1",
        LABEL_RUNTIME: runtime.id,
        LABEL_TI: str(ti.id),
        LABEL_DAG: ti.dag_id,
        LABEL_TASK_ID: ti.task_id,
        LABEL_RUN: ti.run_id,
        LABEL_MAP_INDEX: str(ti.map_index if ti.map_index is not None else -1),
        LABEL_TRY: str(ti.try_number),
    }
    if launched_by:
        labels[LABEL_LAUNCHED_BY] = launched_by
    return TaskContainer(
        name=container_name(workload, settings.deployment),
        image=runtime.image,
        command=(["sh", "-c", TIED, "sh"] if launched_by else []) + [*COMMAND, workload.model_dump_json()],
        environment=environment,
        labels=labels,
        user=user,
        binds=binds,
        host_config=dict(rules.host_config),
        network=settings.network,
    )


def _user(rules: ContainerRules, image_user: str | None) -> tuple[str | None, dict[str, str]]:
    """The runtime file's `user`; else the image's, unless that is root: then the unprivileged uid export names."""
    if rules.user is not None:
        return rules.user, {}
    if not _is_root(image_user):
        return None, {}
    return rules.unprivileged_user, dict(rules.unprivileged_env)


def _is_root(user: str | None) -> bool:
    name = (user or "").split(":")[0].strip()
    return name in ("", "root") or (re.fullmatch(r"[+-]?\d+", name) is not None and int(name) == 0)


class Launcher:
    """Starts, finds and removes the task containers of one deployment on one Docker engine."""

    def __init__(self, settings: LauncherSettings, client: docker.DockerClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self._image_users: dict[str, str | None] = {}
        self._ties: dict[str, Any] = {}
        self.pid = os.getpid()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            import docker
            from docker.errors import DockerException

            try:
                self._client = docker.from_env()
                self._client.ping()
            except DockerException as exc:
                self._client = None
                where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
                raise LauncherError(f"Docker is not reachable at {where}: {exc}") from None
        return self._client

    def manifest(self) -> Manifest:
        try:
            return read_manifest(self.settings.manifest_path)
        except ManifestError as exc:
            raise LauncherError(str(exc)) from None

    def spec(self, workload: ExecuteTask, log_folder: str, launched_by: str | None = None) -> TaskContainer:
        runtime = runtime_of(workload, self.manifest())
        bundle = bundle_place(workload.bundle_info.name, self.settings)
        return task_container(
            workload, runtime, bundle, self.settings, log_folder, self._image_user(runtime.image), launched_by=launched_by
        )

    def run(self, workload: ExecuteTask, log_folder: str, launched_by: str) -> int:
        """Launches the task tied to this process (its container ends if this process dies), waits, removes it."""
        from docker.errors import NotFound

        container_id = self.launch(workload, log_folder, launched_by=launched_by)
        try:
            return int(self.client.api.wait(container_id)["StatusCode"])
        except NotFound:  # ended and auto-removed before the wait began: it did not run the task
            raise LauncherError(f"the container of {workload.ti.dag_id}.{workload.ti.task_id} ended at once") from None
        finally:
            tie = self._ties.pop(container_id, None)
            if tie is not None:
                tie.close()
            self.remove(container_id)

    def launch(self, workload: ExecuteTask, log_folder: str, launched_by: str | None = None) -> str:
        """Creates and starts the task's container; its id. LauncherError says why it could not.

        With `launched_by` (a Celery worker), the container's stdin stays attached to this process until `run`
        ends: if the process dies, the task's container ends with it.
        """
        from docker.errors import APIError, ImageNotFound

        spec = self.spec(workload, log_folder, launched_by)
        api = self.client.api
        try:
            host_config = api.create_host_config(binds=spec.binds, network_mode=spec.network)
            host_config.update(spec.host_config)
            if launched_by:
                # its launcher may die mid-task and never remove it: Docker does, when it ends
                host_config["AutoRemove"] = True
            created = api.create_container(
                image=spec.image,
                command=spec.command,
                name=spec.name,
                user=spec.user or None,
                environment=spec.environment,
                labels=spec.labels,
                host_config=host_config,
                working_dir="/tmp",
                stdin_open=bool(launched_by),  # docker-py: StdinOnce with it
            )
        except ImageNotFound:
            raise LauncherError(
                f"image {spec.image} is not on the Docker engine: build or pull it where the tasks run (the manifest names it)"
            ) from None
        except APIError as exc:
            if exc.status_code == 409:  # launched before (a retried launch): that container is the task's
                return str(api.inspect_container(spec.name)["Id"])
            raise LauncherError(f"Docker refused the container of {spec.name}: {exc.explanation or exc}") from None
        container_id = str(created["Id"])
        try:
            if launched_by:
                self._ties[container_id] = api.attach_socket(container_id, params={"stdin": 1, "stream": 1})
            api.start(container_id)
        except APIError as exc:
            api.remove_container(container_id, force=True)
            raise LauncherError(f"Docker could not start the container of {spec.name}: {exc.explanation or exc}") from None
        return container_id

    def containers(self) -> list[dict[str, Any]]:
        """This deployment's task containers, running or not (Docker's list entries: Id, State, Labels...)."""
        filters = {"label": [f"{LABEL_DEPLOYMENT}={self.settings.deployment}", f"{LABEL_TASK}=1"]}
        return list(self.client.api.containers(all=True, filters=filters))

    def exit_code(self, container_id: str) -> int | None:
        state = self.client.api.inspect_container(container_id)["State"]
        return None if state.get("Running") else int(state.get("ExitCode", -1))

    def output(self, container_id: str, tail: int = 200) -> str:
        return self.client.api.logs(container_id, tail=tail).decode("utf-8", "replace")

    def remove(self, container_id: str) -> None:
        """Kills and removes the container; one already gone is fine."""
        from docker.errors import APIError, NotFound

        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # 409: Docker is removing it already (AutoRemove)
                raise

    def _image_user(self, image: str) -> str | None:
        if image not in self._image_users:
            from docker.errors import ImageNotFound

            try:
                config = self.client.api.inspect_image(image)["Config"] or {}
            except ImageNotFound:
                raise LauncherError(
                    f"image {image} is not on the Docker engine: build or pull it where the tasks run (the manifest names it)"
                ) from None
            self._image_users[image] = config.get("User") or None
        return self._image_users[image]
