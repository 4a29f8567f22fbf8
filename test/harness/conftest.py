"""Black-box harness tests against real Airflow: host venvs and Docker images, both versions.

Environment:
  AIRFLOW_MATRIX_VERSIONS     venvs to test, the newest patch of every supported minor
                              (default: scripts/env/common.sh's list)
  AIRFLOW_VERSIONS            the versions that have Docker images (default "2.11.2 3.3.2")
  AIRFLOW_RUNTIME_ENV_CACHE   where scripts/env built the venvs (default ~/.cache/airflow-runtime-env)
  AIRFLOW_RUNTIME_REQUIRE_REAL=1  a missing venv, image or Docker engine FAILS instead of skipping (CI)
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HARNESS_SRC = REPO / "src" / "harness"
CORPUS = Path(__file__).resolve().parent / "corpus"
IMAGE_VERSIONS = os.environ.get("AIRFLOW_VERSIONS", "2.11.2 3.3.2").split()


def _matrix_default() -> str:
    text = (REPO / "scripts" / "env" / "common.sh").read_text()
    found = re.search(r'AIRFLOW_MATRIX_VERSIONS:-"([^"]+)"', text)
    return found.group(1) if found else " ".join(IMAGE_VERSIONS)


VERSIONS = os.environ.get("AIRFLOW_MATRIX_VERSIONS", _matrix_default()).split()
ENV_CACHE = Path(os.environ.get("AIRFLOW_RUNTIME_ENV_CACHE", Path.home() / ".cache" / "airflow-runtime-env"))
REQUIRE_REAL = os.environ.get("AIRFLOW_RUNTIME_REQUIRE_REAL") == "1"
IMAGE = "airflow-runtime-test/airflow:{}"

# filled by tests, printed at the end of the run whatever -s says
FIDELITY: dict[str, tuple[int, int, list]] = {}
TIMINGS: dict[str, str] = {}


def unavailable(reason: str):
    """A missing real component: a failure in CI (REQUIRE_REAL), else a loud skip."""
    if REQUIRE_REAL:
        pytest.fail(f"REQUIRED real component missing: {reason}")
    pytest.skip(f"NOT TESTED (real component missing): {reason}")


def venv_python(version: str) -> Path:
    return ENV_CACHE / "venvs" / f"airflow-{version}" / "bin" / "python"


def harness_env(extra: dict | None = None, cache: Path | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_", "AIRFLOW__", "PYTHON")) and k not in ("AIRFLOW_HOME", "VIRTUAL_ENV")
    }
    env["PYTHONPATH"] = str(HARNESS_SRC)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["AIRFLOW_RUNTIME_CACHE"] = str(cache or SESSION_CACHE)
    env.update(extra or {})
    return env


# One harness cache (private AIRFLOW_HOME + migrated template DB) for the whole session,
# kept between sessions so the one-off `db migrate` is paid once per machine.
SESSION_CACHE = Path(os.environ.get("AIRFLOW_RUNTIME_TEST_CACHE", Path(tempfile.gettempdir()) / "airflow-runtime-harness-tests"))


@pytest.fixture(scope="session", params=IMAGE_VERSIONS)
def version(request) -> str:
    """The newest 2.x and 3.x (they have Docker images too): every harness test runs on them."""
    return request.param


@pytest.fixture(scope="session", params=VERSIONS)
def matrix_version(request) -> str:
    """The newest patch of every supported minor: the corpus and Airflow's example DAGs run on each."""
    return request.param


image_version = version


@pytest.fixture(scope="session")
def python_for():
    def get(version: str) -> Path:
        py = venv_python(version)
        if not py.exists():
            unavailable(f"venv for Airflow {version} not found at {py} (run scripts/env/venvs.sh)")
        return py

    return get


class Server:
    """A `serve` process: one JSON request per line in, one reply per line out."""

    def __init__(self, argv: list[str], env: dict):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, bufsize=1
        )
        self._stderr = []
        threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True).start()
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError("serve died at start:\n" + "".join(self._stderr))
        self.hello = json.loads(ready)
        self.lock = threading.Lock()
        self._next = 0

    def request(self, **req) -> dict:
        with self.lock:
            self._next += 1
            req.setdefault("id", self._next)
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("serve died:\n" + "".join(self._stderr[-50:]))
        return json.loads(line)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def docker_available() -> str | None:
    if not shutil.which("docker"):
        return "docker CLI not installed"
    try:
        subprocess.run(["docker", "info"], check=True, capture_output=True, timeout=20)
    except Exception as exc:
        return f"docker engine not reachable ({exc})"
    return None


def image_available(version: str) -> str | None:
    tag = IMAGE.format(version)
    probe = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    return None if probe.returncode == 0 else f"image {tag} not built (run scripts/env/images.sh)"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    per_version: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for outcome in ("passed", "failed", "error", "skipped"):
        for rep in tr.stats.get(outcome, []):
            if getattr(rep, "when", "call") not in ("call", "setup") or (outcome == "passed" and rep.when != "call"):
                continue
            found = re.findall(r"\d+\.\d+\.\d+", rep.nodeid)
            per_version[found[0] if found else "any"][outcome] += 1
    if per_version:
        tr.section("airflow harness: results per Airflow version")
        for v in sorted(per_version):
            c = per_version[v]
            tr.write_line(f"airflow {v}: {c['passed']} passed, {c['failed'] + c['error']} failed, {c['skipped']} skipped")
    if FIDELITY:
        tr.section("airflow harness: fidelity with Airflow's own DagBag on its example DAGs")
        for key in sorted(FIDELITY):
            agree, total, bad = FIDELITY[key]
            tr.write_line(
                f"fidelity airflow {key}: {agree}/{total} files agree" + (f" (differ: {', '.join(bad)})" if bad else "")
            )
    if TIMINGS:
        tr.section("airflow harness: timings")
        for key in sorted(TIMINGS):
            tr.write_line(f"{key}: {TIMINGS[key]}")
