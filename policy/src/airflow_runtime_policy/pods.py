"""The KubernetesExecutor `pod_override` of a runtime: container `base` with its image, env and resources."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .manifest import Runtime

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)
_BINARY = {"b": ("", 1), "k": ("Ki", 1024), "m": ("Mi", 1024**2), "g": ("Gi", 1024**3)}


def kubernetes_memory(size: str | int) -> str:
    """A runtime-file size (bytes, or `512m`, `2g`: binary units, as Docker reads them) as a Kubernetes quantity."""
    if isinstance(size, int):
        return str(size)
    match = _SIZE.match(size)
    if not match:
        raise ValueError(f"memory {size!r} is not a size like 512m or 2g")
    number, unit = match.group(1), (match.group(2) or "b").lower()[0]
    suffix, factor = _BINARY[unit]
    if "." not in number:
        return number + suffix
    return str(int(float(number) * factor))  # 1.5g: whole bytes, which every Kubernetes version reads


def kubernetes_cpu(cpus: float) -> str:
    return str(int(cpus)) if float(cpus).is_integer() else f"{round(cpus * 1000)}m"


def pod_override(runtime: Runtime, secret: str | None):
    from kubernetes.client import models as k8s

    env = []
    for name, value in runtime.env.items():
        if value is not None:
            env.append(k8s.V1EnvVar(name=name, value=value))
        elif secret:
            env.append(
                k8s.V1EnvVar(
                    name=name, value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(name=secret, key=name))
                )
            )
    amounts = {}
    if runtime.memory is not None:
        amounts["memory"] = kubernetes_memory(runtime.memory)
    if runtime.cpus is not None:
        amounts["cpu"] = kubernetes_cpu(runtime.cpus)
    resources = k8s.V1ResourceRequirements(requests=dict(amounts), limits=dict(amounts)) if amounts else None
    container = k8s.V1Container(name="base", image=runtime.image, env=env or None, resources=resources)
    return k8s.V1Pod(spec=k8s.V1PodSpec(containers=[container]))
