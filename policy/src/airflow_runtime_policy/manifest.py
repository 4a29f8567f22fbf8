"""The production manifest (`airflow-runtime/manifest@1`), read once per process and file version."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .pods import kubernetes_memory

FORMAT = "airflow-runtime/manifest@1"
# What Celery and the Edge executor take as a queue name safely (and what `export` writes): `deploy.queue`'s rule
QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


class ManifestError(Exception):
    """The manifest cannot be used; the message says which file and why, for a person."""


# The HostConfig fields `export` may write in a runtime's `container.hostConfig` (src/core/engine/docker/hardening.ts)
HOST_CONFIG_KEYS = frozenset(
    {"SecurityOpt", "CapDrop", "CapAdd", "PidsLimit", "Tmpfs", "Memory", "MemorySwap", "NanoCpus", "ReadonlyRootfs"}
)


@dataclass(frozen=True)
class ContainerRules:
    """How a runtime's task containers are hardened, as `export` wrote it from the rule our own containers follow."""

    # the runtime file's `user`; None: the image's own user, unless that is root
    user: str | None
    # who runs the task where the image's user is root, and the environment that uid needs (HOME, USER)
    unprivileged_user: str
    unprivileged_env: dict[str, str]
    # Docker's HostConfig fields (only HOST_CONFIG_KEYS), in the Engine API's names
    host_config: dict[str, Any]


@dataclass(frozen=True)
class Runtime:
    id: str
    image: str
    queue: str
    executor: str | None
    env: dict[str, str | None] = field(default_factory=dict)
    memory: str | int | None = None
    cpus: float | None = None
    bundles: tuple[str, ...] = ()
    container: ContainerRules | None = None


@dataclass(frozen=True)
class Manifest:
    path: str
    runtimes: dict[str, Runtime]
    files: dict[str, str]  # DAG file path relative to the DAGs folder (POSIX) -> runtime id

    def runtime_of(self, relative_path: str) -> Runtime | None:
        runtime_id = self.files.get(relative_path)
        return self.runtimes[runtime_id] if runtime_id is not None else None


_cache: dict[str, tuple[str, Manifest]] = {}


def read_manifest(path: str) -> Manifest:
    """The manifest at `path`; parsed again only when its content changed (a copy can keep the size and mtime)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path}: {exc.strerror or exc}") from None
    version = hashlib.sha256(data).hexdigest()
    cached = _cache.get(path)
    if cached and cached[0] == version:
        return cached[1]
    try:
        document = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise ManifestError(f"cannot read the manifest {path}: {exc}") from None
    manifest = _validate(path, document)
    _cache[path] = (version, manifest)
    return manifest


def _validate(path: str, doc: object) -> Manifest:
    def fail(what: str) -> ManifestError:
        return ManifestError(f"the manifest {path} is not valid: {what} (re-run `airflow-runtime export`)")

    if not isinstance(doc, dict):
        raise fail("it is not a JSON object")
    if doc.get("format") != FORMAT:
        raise ManifestError(
            f"the manifest {path} has format {doc.get('format')!r}; this airflow-runtime-policy reads {FORMAT!r}"
            " (install the policy version that matches the airflow-runtime that exported it)"
        )
    runtimes = {}
    for index, item in enumerate(_list(doc, "runtimes", fail)):
        where = f"runtimes[{index}]"
        if not isinstance(item, dict):
            raise fail(f"{where} is not an object")
        runtime = Runtime(
            id=_text(item, "id", where, fail),
            image=_text(item, "image", where, fail),
            queue=_text(item, "queue", where, fail),
            executor=_optional_text(item, "executor", where, fail),
            env=_env(item.get("env") or {}, where, fail),
            **_resources(item.get("resources") or {}, where, fail),
            bundles=_bundle_names(item.get("bundles") or [], where, fail),
            container=_container(item.get("container"), where, fail),
        )
        if not QUEUE_NAME.fullmatch(runtime.queue):
            raise fail(
                f"{where}.queue {runtime.queue[:80]!r} is not a queue name (letters, digits, _, -, . and :, "
                "at most 200 characters)"
            )
        if runtime.id in runtimes:
            raise fail(f"{where}.id {runtime.id!r} is a duplicate: two runtimes with one id would route its DAG files to either")
        runtimes[runtime.id] = runtime
    files = {}
    for index, item in enumerate(_list(doc, "files", fail)):
        where = f"files[{index}]"
        if not isinstance(item, dict):
            raise fail(f"{where} is not an object")
        runtime_id = _text(item, "runtime", where, fail)
        if runtime_id not in runtimes:
            raise fail(f"{where}.runtime {runtime_id!r} is not one of runtimes[].id")
        path_ = _text(item, "path", where, fail)
        if path_ in files:
            raise fail(f"{where}.path {path_!r} is a duplicate: a DAG file has one runtime")
        files[path_] = runtime_id
    return Manifest(path=path, runtimes=runtimes, files=files)


def _list(doc: dict, key: str, fail) -> list:
    value = doc.get(key)
    if not isinstance(value, list):
        raise fail(f"{key!r} must be a list")
    return value


def _text(item: dict, key: str, where: str, fail) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise fail(f"{where}.{key} must be a non-empty string")
    return value


def _optional_text(item: dict, key: str, where: str, fail) -> str | None:
    return None if item.get(key) is None else _text(item, key, where, fail)


def _env(env: object, where: str, fail) -> dict[str, str | None]:
    if not isinstance(env, dict) or not all(v is None or isinstance(v, str) for v in env.values()):
        raise fail(f"{where}.env must map names to strings or null")
    return dict(env)


def _resources(resources: object, where: str, fail) -> dict:
    if not isinstance(resources, dict):
        raise fail(f"{where}.resources must be an object")
    memory, cpus = resources.get("memory"), resources.get("cpus")
    if memory is not None:
        try:
            if isinstance(memory, bool) or not isinstance(memory, (str, int)) or (isinstance(memory, int) and memory <= 0):
                raise ValueError
            kubernetes_memory(memory)
        except ValueError:
            raise fail(f"{where}.resources.memory {memory!r} must be a size (512m, 2g, or bytes) or null") from None
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0):
        raise fail(f"{where}.resources.cpus must be a positive number or null")
    return {"memory": memory, "cpus": cpus}


def _bundle_names(bundles: object, where: str, fail: Callable[[str], ManifestError]) -> tuple[str, ...]:
    if not isinstance(bundles, list) or not all(isinstance(b, dict) and isinstance(b.get("name"), str) for b in bundles):
        raise fail(f"{where}.bundles must be a list of {{name, path}}")
    return tuple(b["name"] for b in bundles)


def _container(container: object, where: str, fail: Callable[[str], ManifestError]) -> ContainerRules | None:
    if container is None:
        return None
    where = f"{where}.container"
    if not isinstance(container, dict):
        raise fail(f"{where} must be an object")
    user = container.get("user")
    if user is not None and (not isinstance(user, str) or not user):
        raise fail(f"{where}.user must be a non-empty string or null")
    unprivileged = container.get("unprivileged")
    if (
        not isinstance(unprivileged, dict)
        or not isinstance(unprivileged.get("user"), str)
        or not isinstance(unprivileged.get("env", {}), dict)
        or not all(isinstance(v, str) for v in unprivileged.get("env", {}).values())
    ):
        raise fail(f"{where}.unprivileged must be {{user, env}}")
    host_config = container.get("hostConfig")
    if not isinstance(host_config, dict):
        raise fail(f"{where}.hostConfig must be an object")
    unknown = sorted(set(host_config) - HOST_CONFIG_KEYS)
    if unknown:
        raise fail(
            f"{where}.hostConfig has {', '.join(unknown)}, which this airflow-runtime-policy does not know "
            "(install the policy version that matches the airflow-runtime that exported it)"
        )
    return ContainerRules(
        user=user,
        unprivileged_user=unprivileged["user"],
        unprivileged_env=dict(unprivileged.get("env", {})),
        host_config=dict(host_config),
    )
