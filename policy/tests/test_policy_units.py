"""The parts that need no Airflow: sizes as Kubernetes reads them, and manifest validation."""

import json
import sys
from pathlib import Path

import pytest

from .support import MANIFEST

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from airflow_runtime_policy.manifest import ManifestError, read_manifest  # noqa: E402
from airflow_runtime_policy.pods import kubernetes_cpu, kubernetes_memory  # noqa: E402


@pytest.mark.parametrize(
    "size, quantity",
    [
        ("2g", "2Gi"),
        ("512m", "512Mi"),
        ("64k", "64Ki"),
        ("2GiB", "2Gi"),
        ("100", "100"),
        (1073741824, "1073741824"),
        ("1.5g", "1610612736"),
    ],
)
def test_memory_sizes_become_kubernetes_quantities_in_the_same_binary_units(size, quantity):
    assert kubernetes_memory(size) == quantity


@pytest.mark.parametrize("cpus, quantity", [(1, "1"), (2.0, "2"), (1.5, "1500m"), (0.25, "250m")])
def test_cpus_become_kubernetes_cpu_quantities(cpus, quantity):
    assert kubernetes_cpu(cpus) == quantity


def test_the_manifest_is_read_again_only_when_it_changes(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MANIFEST))
    first = read_manifest(str(path))
    assert read_manifest(str(path)) is first
    path.write_text(json.dumps({**MANIFEST, "files": []}) + "\n")
    assert read_manifest(str(path)).files == {}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"runtimes": {}}, "'runtimes' must be a list"),
        ({"files": [{"path": "a.py", "runtime": "rt-000000000000"}]}, "files[0].runtime 'rt-000000000000' is not one"),
        ({"runtimes": [{**MANIFEST["runtimes"][0], "image": ""}]}, "runtimes[0].image must be a non-empty string"),
        ({"runtimes": [{**MANIFEST["runtimes"][0], "resources": {"memory": "lots"}}]}, "resources.memory 'lots'"),
    ],
)
def test_an_invalid_manifest_says_what_is_wrong(tmp_path, change, message):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({**MANIFEST, **change}))
    with pytest.raises(ManifestError, match="re-run `airflow-runtime export`") as raised:
        read_manifest(str(path))
    assert message in str(raised.value)


def test_a_manifest_replaced_with_the_same_size_and_mtime_is_read_again(tmp_path):
    import os

    path = tmp_path / "manifest.json"
    text = json.dumps(MANIFEST)
    path.write_text(text)
    stat = os.stat(path)
    assert read_manifest(str(path)).runtimes[MANIFEST["runtimes"][0]["id"]].queue == MANIFEST["runtimes"][0]["queue"]
    changed = text.replace(MANIFEST["runtimes"][0]["queue"], "q" * len(MANIFEST["runtimes"][0]["queue"]), 1)
    assert len(changed) == len(text)
    path.write_text(changed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # what a copy that keeps times does
    assert read_manifest(str(path)).runtimes[MANIFEST["runtimes"][0]["id"]].queue == "q" * len(MANIFEST["runtimes"][0]["queue"])


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"runtimes": [MANIFEST["runtimes"][0], MANIFEST["runtimes"][0]]},
            f"runtimes[1].id {MANIFEST['runtimes'][0]['id']!r} is a duplicate",
        ),
        (
            {"files": [MANIFEST["files"][0], MANIFEST["files"][0]]},
            f"files[1].path {MANIFEST['files'][0]['path']!r} is a duplicate",
        ),
        ({"runtimes": [{**MANIFEST["runtimes"][0], "queue": "q" * 10_000}]}, "is not a queue name"),
        ({"runtimes": [{**MANIFEST["runtimes"][0], "queue": "team a;rm"}]}, "is not a queue name"),
    ],
)
def test_duplicates_and_unusable_queues_are_refused_by_name(tmp_path, change, message):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({**MANIFEST, **change}))
    with pytest.raises(ManifestError, match="re-run `airflow-runtime export`") as raised:
        read_manifest(str(path))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "env",
    [
        {"AIRFLOW_RUNTIME_MANIFEST": ""},
        {"AIRFLOW_RUNTIME_MANIFEST": "  "},
        {"AIRFLOW_RUNTIME_ID": ""},
    ],
)
def test_a_setting_that_is_set_but_empty_is_an_error_not_silence(tmp_path, monkeypatch, env):
    from airflow_runtime_policy.config import load_config

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MANIFEST))
    monkeypatch.delenv("AIRFLOW_RUNTIME_ID", raising=False)
    monkeypatch.setenv("AIRFLOW_RUNTIME_MANIFEST", str(path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ManifestError, match=f"{next(iter(env))} is set but empty"):
        load_config()
