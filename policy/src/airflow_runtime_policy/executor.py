"""An Airflow 3 executor that runs each task in its runtime's container on this machine's Docker engine.

    [core] executor = airflow_runtime_policy.executor.ContainerTaskExecutor

The launcher (launcher.py) makes the containers; this class tracks them for the scheduler:
- a task's state comes from its container's exit (0: success); the container is removed once it has ended;
- a scheduler that died leaves its containers running: the next one adopts those whose task instance it is
  offered (`try_adopt_task_instances`), and removes every container of the deployment whose task instance is no
  longer queued or running (`_sweep`), so none is left running;
- a task killed from the UI or the REST API: Airflow's supervisor in the container is told so on its next
  heartbeat and ends the task, then the container ends; `revoke_task` removes it at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.configuration import conf
from airflow.executors.base_executor import BaseExecutor

from .launcher import LABEL_TI, Launcher, LauncherError, settings_from_env

if TYPE_CHECKING:
    from airflow.executors.workloads import ExecuteTask, ExecutorWorkload
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancekey import TaskInstanceKey

# How often containers nobody tracks are looked at (seconds): a dead scheduler's leftovers, finished or orphaned
SWEEP_INTERVAL = 15.0
# A container that is running while its task instance is not queued or running is removed after this long: a task
# instance is marked running by the task itself, a little after its container starts
ORPHAN_GRACE = 60.0


class ContainerTaskExecutor(BaseExecutor):
    """Each task in a hardened container of its runtime's image, named by the airflow-runtime manifest."""

    is_local: bool = True
    is_production: bool = True
    serve_logs: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._launcher: Launcher | None = None
        self._containers: dict[TaskInstanceKey, str] = {}
        self._log_paths: dict[TaskInstanceKey, str] = {}
        self._last_sweep = 0.0
        self._orphans_seen: dict[str, float] = {}

    @property
    def launcher(self) -> Launcher:
        if self._launcher is None:
            try:
                self._launcher = Launcher(settings_from_env())
            except LauncherError as exc:
                raise LauncherError(f"ContainerTaskExecutor cannot start: {exc}") from None
        return self._launcher

    def start(self) -> None:
        launcher = self.launcher
        launcher.client  # noqa: B018  (Docker unreachable: the scheduler stops now, saying where it looked)
        launcher.manifest()
        self.log.info(
            "ContainerTaskExecutor: tasks run in their runtimes' containers (deployment %s, manifest %s)",
            launcher.settings.deployment,
            launcher.settings.manifest_path,
        )
        self._sweep(force=True)

    def _process_workloads(self, workloads: Sequence[ExecutorWorkload]) -> None:
        from airflow.executors.workloads import ExecuteTask

        for workload in workloads:
            if not isinstance(workload, ExecuteTask):
                raise ValueError(f"ContainerTaskExecutor runs tasks only, not {type(workload).__name__}")
            key = workload.ti.key
            self.queued_tasks.pop(key, None)
            self._launch(key, workload)

    def _launch(self, key: TaskInstanceKey, workload: ExecuteTask) -> None:
        log_folder = _log_folder()
        if workload.log_path:
            self._log_paths[key] = os.path.join(log_folder, workload.log_path)
        self.running.add(key)
        try:
            container_id = self.launcher.launch(workload, log_folder)
        except Exception as exc:  # LauncherError says why; anything else (Docker gone mid-call) fails the task too
            message = f"airflow-runtime: task {key.dag_id}.{key.task_id} was not started: {exc}"
            self.log.error("%s", message)
            self._append_task_log(key, message)
            self.fail(key, message)
            return
        self._containers[key] = container_id
        self.log.info("Started %s in container %s", key, container_id[:12])

    def sync(self) -> None:
        try:
            self._sync()
        except Exception as exc:
            # Docker away for a moment must not stop the scheduler: the containers are looked at again next beat
            self.log.warning("ContainerTaskExecutor could not look at its containers: %s", exc)

    def _sync(self) -> None:
        if self._containers:
            by_id = {c["Id"]: c for c in self.launcher.containers()}
            for key, container_id in list(self._containers.items()):
                entry = by_id.get(container_id)
                if entry is None:
                    self._finish(key, None, "its container was removed by someone else")
                elif entry.get("State") in ("exited", "dead"):
                    self._finish(key, container_id)
        self._sweep()

    def _finish(self, key: TaskInstanceKey, container_id: str | None, why: str | None = None) -> None:
        del self._containers[key]
        log_path = self._log_paths.pop(key, None)
        if container_id is None:
            self.fail(key, why)
            return
        code = self.launcher.exit_code(container_id)
        if code != 0:
            self.log.warning(
                "The container of %s exited with %s; its last lines:\n%s", key, code, self.launcher.output(container_id, tail=40)
            )
        if code != 0 and log_path and not os.path.exists(log_path):
            # It ended before Airflow's supervisor wrote the task's log (an image without Airflow, a bad
            # bundle): what it printed is the only account, so it becomes the task's log.
            self._append_task_log(
                key, f"airflow-runtime: the task's container exited with {code}:\n" + self.launcher.output(container_id), log_path
            )
        self.launcher.remove(container_id)
        if code == 0:
            self.success(key)
        else:
            self.fail(key, f"the task's container exited with {code}")

    def _sweep(self, force: bool = False) -> None:
        """Removes the deployment's containers that nobody tracks: ended ones, and running ones of no live task."""
        now = time.monotonic()
        if not force and now - self._last_sweep < SWEEP_INTERVAL:
            return
        self._last_sweep = now
        tracked = set(self._containers.values())
        running: dict[str, str] = {}
        for entry in self.launcher.containers():
            if entry["Id"] in tracked:
                continue
            if entry.get("State") in ("exited", "dead", "created"):
                self.launcher.remove(entry["Id"])
            else:
                running[entry["Id"]] = (entry.get("Labels") or {}).get(LABEL_TI, "")
        live = _live_task_instances(set(running.values()))
        for container_id, ti_id in running.items():
            if ti_id in live:
                self._orphans_seen.pop(container_id, None)
                continue
            first = self._orphans_seen.setdefault(container_id, now)
            if not ti_id or now - first >= ORPHAN_GRACE:
                self.log.warning(
                    "Removing container %s: its task instance %s is not queued or running",
                    container_id[:12],
                    ti_id or "(unknown)",
                )
                self.launcher.remove(container_id)
                self._orphans_seen.pop(container_id, None)

    def try_adopt_task_instances(self, tis: Sequence[TaskInstance]) -> Sequence[TaskInstance]:
        """Adopts the task instances of a dead scheduler that have a container here; the rest are reset."""
        by_ti = {(c.get("Labels") or {}).get(LABEL_TI): c["Id"] for c in self.launcher.containers()}
        not_adopted = []
        for ti in tis:
            container_id = by_ti.get(str(ti.id))
            if container_id is None:
                not_adopted.append(ti)
                continue
            self._containers[ti.key] = container_id
            self.running.add(ti.key)
            self.log.info("Adopted %s in container %s", ti.key, container_id[:12])
        return not_adopted

    def revoke_task(self, *, ti: TaskInstance) -> None:
        key = ti.key
        container_id = self._containers.pop(key, None)
        self._log_paths.pop(key, None)
        self.queued_tasks.pop(key, None)
        self.running.discard(key)
        if container_id is not None:
            try:
                self.launcher.remove(container_id)
            except Exception as exc:  # revoke_task must not raise
                self.log.warning("Could not remove container %s of %s: %s", container_id[:12], key, exc)

    def end(self) -> None:
        """The scheduler stops: states of what ended are collected; running containers stay for the next one."""
        self.sync()

    def terminate(self) -> None:
        self.end()

    def _append_task_log(self, key: TaskInstanceKey, message: str, path: str | None = None) -> None:
        path = path or self._log_paths.get(key)
        if not path:
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(message.rstrip("\n") + "\n")
        except OSError as exc:
            self.log.warning("Could not write the task log %s: %s", path, exc)


def _log_folder() -> str:
    return os.path.expanduser(conf.get("logging", "base_log_folder"))


def _live_task_instances(ids: set[str]) -> set[str]:
    """Those of `ids` whose task instance is queued, running or restarting (a try that may still use it)."""
    import uuid

    wanted = []
    for text in ids:
        try:
            wanted.append(uuid.UUID(text))
        except ValueError:
            continue
    if not wanted:
        return set()
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import State
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.id).where(TaskInstance.id.in_(wanted), TaskInstance.state.in_(State.adoptable_states))
        )
        return {str(row[0]) for row in rows}
