"""The policy's settings, from the environment each time a hook runs (so a test or a process can change them)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

from .manifest import Manifest, ManifestError, read_manifest

MODES = ("celery", "executor", "kubernetes")


@dataclass(frozen=True)
class PolicyConfig:
    manifest: Manifest
    mode: str
    runtime_id: str | None
    dags_folder: str
    k8s_secret: str | None

    def relative_path(self, fileloc: str) -> str | None:
        """The DAG file's path as the manifest writes it, or None when it lies outside the DAGs folder."""
        for resolve in (os.path.abspath, os.path.realpath):  # realpath: symlinked folders (git-sync)
            relative = os.path.relpath(resolve(fileloc), resolve(self.dags_folder))
            if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
                return posixpath.join(*relative.split(os.sep))
        return None


def load_config() -> PolicyConfig | None:
    """None when AIRFLOW_RUNTIME_MANIFEST is unset; ManifestError when the settings cannot be used."""
    # set but empty is a deployment that meant to set it (a template with no value): never silently off
    settings = (("AIRFLOW_RUNTIME_MANIFEST", "the manifest's path"), ("AIRFLOW_RUNTIME_ID", "this DAG processor's runtime id"))
    for name, what in settings:
        if name in os.environ and not os.environ[name].strip():
            raise ManifestError(f"{name} is set but empty: set it to {what}, or unset it")
    path = os.environ.get("AIRFLOW_RUNTIME_MANIFEST")
    if path is None:
        return None
    mode = os.environ.get("AIRFLOW_RUNTIME_MODE") or "celery"
    if mode not in MODES:
        raise ManifestError(f"AIRFLOW_RUNTIME_MODE={mode!r} is not one of {', '.join(MODES)}")
    if mode == "kubernetes":
        try:
            import kubernetes.client  # noqa: F401
        except ImportError:
            raise ManifestError(
                "AIRFLOW_RUNTIME_MODE=kubernetes needs the `kubernetes` client (install apache-airflow-providers-cncf-kubernetes)"
            ) from None
    return PolicyConfig(
        manifest=read_manifest(path),
        mode=mode,
        runtime_id=os.environ.get("AIRFLOW_RUNTIME_ID") or None,
        dags_folder=os.environ.get("AIRFLOW_RUNTIME_DAGS_FOLDER") or _airflow_dags_folder(),
        k8s_secret=os.environ.get("AIRFLOW_RUNTIME_K8S_SECRET") or None,
    )


def _airflow_dags_folder() -> str:
    from airflow.configuration import conf

    return os.path.expanduser(conf.get("core", "dags_folder"))
