"""The same corpus inside the real images (`docker run` with the harness mounted read-only)."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import CORPUS, HARNESS_SRC, IMAGE, SESSION_CACHE, TIMINGS, docker_available, image_available, unavailable
from expected import EXPECTED, HANG, check

DAGS = "/opt/airflow/dags"
_results: dict = {}


def docker_argv(version: str, out_dir, *args: str, interactive: bool = False) -> list[str]:
    cache = SESSION_CACHE / f"docker-{version}"  # the migrated template DB survives the container
    cache.mkdir(parents=True, exist_ok=True)
    return [
        "docker",
        "run",
        "--rm",
        *(["-i"] if interactive else []),
        "--network",
        "none",
        "-v",
        f"{HARNESS_SRC}:/opt/airflow-runtime/harness:ro",
        "-v",
        f"{CORPUS}:{DAGS}:ro",
        "-v",
        f"{out_dir}:/out",
        "-v",
        f"{cache}:/opt/airflow-runtime/cache",
        "-e",
        "PYTHONPATH=/opt/airflow-runtime/harness",
        "-e",
        "AIRFLOW_RUNTIME_CACHE=/opt/airflow-runtime/cache",
        IMAGE.format(version),
        "python",
        "-m",
        "airflow_runtime_harness",
        *args,
    ]


@pytest.fixture(scope="session")
def in_docker(image_version, tmp_path_factory):
    version = image_version
    problem = docker_available() or image_available(version)
    if problem:
        unavailable(problem)
    if version not in _results:
        out = tmp_path_factory.mktemp(f"docker-{version}")
        out.chmod(0o777)
        names = list(EXPECTED) + ["hang.py"]
        requests = "".join(
            json.dumps(
                {
                    "id": n,
                    "file": f"{DAGS}/{n}",
                    "dagsFolder": DAGS,
                    "out": f"/out/{n}.json",
                    "timeout": 3 if n == "hang.py" else 60,
                }
            )
            + "\n"
            for n in names
        )
        proc = subprocess.run(
            docker_argv(version, out, "serve", interactive=True), input=requests, capture_output=True, text=True, timeout=300
        )
        replies = [json.loads(line) for line in proc.stdout.splitlines()]
        assert replies and replies[0].get("ready"), proc.stderr[-3000:]
        assert all(r["ok"] for r in replies[1:]), replies
        cold = subprocess.run(
            docker_argv(
                version, out, "parse", "--file", f"{DAGS}/classic.py", "--dags-folder", DAGS, "--out", "/out/cold-classic.json"
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert cold.returncode == 0, cold.stderr[-3000:]
        _results[version] = {n: json.loads((out / f"{n}.json").read_text()) for n in names}
        _results[version]["cold-classic"] = json.loads((out / "cold-classic.json").read_text())
        TIMINGS[f"docker airflow {version}: warm parse classic.py"] = f"{_results[version]['classic.py']['durationMs']} ms"
    return _results[version]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_in_docker(in_docker, name, image_version):
    version = image_version
    check(in_docker[name], EXPECTED[name], DAGS, name)
    assert in_docker[name]["airflowVersion"] == version


def test_timeout_in_docker(in_docker):
    check(in_docker["hang.py"], HANG, DAGS, "hang.py")


def test_cold_parse_in_docker(in_docker):
    check(in_docker["cold-classic"], EXPECTED["classic.py"], DAGS, "classic.py")
