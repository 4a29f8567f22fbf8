"""The policy package against real Airflow: its wheel, built once per session, loaded by the repo's Airflow venvs.

The wheel is installed into a throwaway `pip --target` folder put on PYTHONPATH of each Airflow process, so the
shared venvs stay untouched; Airflow must find the policy through its `airflow.policy` entry point.

Environment (as test/harness): AIRFLOW_VERSIONS, AIRFLOW_RUNTIME_ENV_CACHE, AIRFLOW_RUNTIME_REQUIRE_REAL=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .support import MANIFEST

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "policy"
HERE = Path(__file__).resolve().parent
VERSIONS = os.environ.get("AIRFLOW_VERSIONS", "2.11.2 3.3.2").split()
ENV_CACHE = Path(os.environ.get("AIRFLOW_RUNTIME_ENV_CACHE", Path.home() / ".cache" / "airflow-runtime-env"))
REQUIRE_REAL = os.environ.get("AIRFLOW_RUNTIME_REQUIRE_REAL") == "1"


def unavailable(reason: str):
    if REQUIRE_REAL:
        pytest.fail(f"REQUIRED real component missing: {reason}")
    pytest.skip(f"NOT TESTED (real component missing): {reason}")


@pytest.fixture(scope="session", params=VERSIONS)
def version(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def policy_target(tmp_path_factory) -> Path:
    """The policy wheel, built from policy/ and installed into a folder of its own (never into a venv)."""
    # built from a copy: setuptools writes build/ and *.egg-info into the folder it builds
    source = tmp_path_factory.mktemp("policy-source") / "policy"
    shutil.copytree(POLICY, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    wheels = tmp_path_factory.mktemp("policy-wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source), "-w", str(wheels)], check=True)
    (wheel,) = wheels.glob("airflow_runtime_policy-*.whl")
    target = tmp_path_factory.mktemp("policy-target")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)], check=True
    )
    return target


@pytest.fixture(scope="session")
def kubernetes_overlay():
    """The cncf.kubernetes provider beside each venv (scripts/env/k8s-provider.sh; seconds when cached)."""
    done = subprocess.run([str(REPO / "scripts" / "env" / "k8s-provider.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail("the cncf.kubernetes provider could not be installed beside the Airflow venvs:\n" + done.stdout + done.stderr)
    return lambda version: ENV_CACHE / "overlays" / f"cncf-kubernetes-{version}"


@pytest.fixture
def project(tmp_path) -> Path:
    """A project whose DAGs folder holds team_a/, team_b/ (in the manifest) and loose/ (not in it)."""
    shutil.copytree(HERE / "dags", tmp_path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST, indent=2))
    return tmp_path


@pytest.fixture
def probe(version, policy_target, tmp_path):
    """probe(project, env, bags=None, overlay=None, pod_template=None) -> what Airflow loaded and did."""
    python = ENV_CACHE / "venvs" / f"airflow-{version}" / "bin" / "python"
    if not python.exists():
        unavailable(f"venv for Airflow {version} not found at {python} (run scripts/env/venvs.sh)")

    def run(
        project: Path, env: dict, bags: list[str] | None = None, overlay: Path | None = None, pod_template: Path | None = None
    ) -> dict:
        dags = project / "dags"
        # Airflow 3 parses bundle by bundle (one per runtime folder, as export writes them); Airflow 2's
        # scheduler the whole folder, or its standalone processors one `--subdir` each
        if bags is None and not version.startswith("3."):
            bag_requests = [{"folder": str(dags), "bundle": None}]
        else:
            bag_requests = [{"folder": str(dags / f), "bundle": f} for f in bags or ["team_a", "team_b", "loose"]]
        request = {"bags": bag_requests, "pod_template": str(pod_template) if pod_template else None}
        home = tmp_path / "airflow-home"
        home.mkdir(exist_ok=True)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON")) and k != "VIRTUAL_ENV"}
        full_env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": os.pathsep.join(str(p) for p in (policy_target, overlay) if p),
            }
        )
        full_env.update(env)
        done = subprocess.run(
            [str(python), str(HERE / "probe.py"), json.dumps(request)], env=full_env, capture_output=True, text=True, timeout=300
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
        assert done.returncode == 0 and lines, f"probe failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        report = json.loads(lines[-1][len("PROBE ") :])
        report["log"] = done.stdout + done.stderr
        assert {
            "name": "airflow_runtime_policy",
            "module": "airflow_runtime_policy.hooks",
            "distribution": "airflow-runtime-policy",
        } in report["plugins"], report["plugins"]
        return report

    return run
