"""The corpus, parsed on the host venvs: warm (serve) for every file, cold (the CLI) for a few."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from conftest import CORPUS, TIMINGS, Server, harness_env
from expected import EXPECTED, HANG, VARIABLE_SET, check

_served: dict = {}
_cold: dict = {}


@pytest.fixture(scope="session")
def served(matrix_version, python_for, tmp_path_factory):
    """Every corpus file parsed once per version of the matrix by one `serve` process (shared by the tests)."""
    version = matrix_version
    if version not in _served:
        out = tmp_path_factory.mktemp(f"served-{version}")
        server = Server([str(python_for(version)), "-m", "airflow_runtime_harness", "serve"], harness_env())
        try:
            results = {}
            for name in list(EXPECTED) + ["hang.py"]:
                reply = server.request(
                    file=str(CORPUS / name),
                    dagsFolder=str(CORPUS),
                    out=str(out / (name + ".json")),
                    timeout=3 if name == "hang.py" else 60,
                )
                assert reply["ok"], reply
                results[name] = json.loads((out / (name + ".json")).read_text())
            _served[version] = results
        finally:
            server.close()
    return _served[version]


@pytest.fixture(scope="session")
def cold(version, python_for, tmp_path_factory):
    """A few files through the cold CLI (`python -m airflow_runtime_harness parse`), in parallel."""
    if version not in _cold:
        out = tmp_path_factory.mktemp(f"cold-{version}")
        jobs = {
            "classic.py": ({}, []),
            "variable.py": ({"AIRFLOW_VAR_CORPUS_ENV": "prod"}, []),
            "hang.py": ({}, ["--timeout", "3"]),
        }
        procs = {}
        for name, (extra, args) in jobs.items():
            argv = [
                str(python_for(version)),
                "-m",
                "airflow_runtime_harness",
                "parse",
                "--file",
                str(CORPUS / name),
                "--dags-folder",
                str(CORPUS),
                "--out",
                str(out / (name + ".json")),
            ] + args
            procs[name] = (
                time.monotonic(),
                subprocess.Popen(argv, env=harness_env(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
            )
        results = {}
        for name, (started, proc) in procs.items():
            text = proc.communicate(timeout=120)[0].decode(errors="replace")
            results[name] = (proc.returncode, time.monotonic() - started, out / (name + ".json"), text)
        _cold[version] = results
    return _cold[version]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_warm(served, name, matrix_version):
    version = matrix_version
    if name == "variable.py" and version.startswith("3.0."):
        # A known divergence, kept visible: Airflow 3.0's Variable.get at the top of a DAG file needs the
        # DAG processor's supervisor (SUPERVISOR_COMMS), which the harness does not provide; 3.1+ falls
        # back to the metadata DB. Reported as xfailed, never as passed.
        pytest.xfail("Airflow 3.0: top-level Variable.get needs the DAG processor's supervisor")
    check(served[name], EXPECTED[name], str(CORPUS), name)
    assert served[name]["airflowVersion"] == version


def test_timeout_warm(served):
    check(served["hang.py"], HANG, str(CORPUS), "hang.py")


def test_loud_output_truncated(served):
    output = served["loud.py"]["output"]
    assert output["bytes"] > 5_000_000
    assert output["truncated"] is True
    assert len(output["tail"]) <= 16 * 1024
    assert "e" * 100 in output["tail"]


def test_cold_classic(cold, version):
    code, seconds, path, log = cold["classic.py"]
    assert code == 0, log
    result = json.loads(path.read_text())
    check(result, EXPECTED["classic.py"], str(CORPUS), "classic.py")
    TIMINGS[f"cold parse classic.py airflow {version} (3 in parallel)"] = f"{seconds:.1f}s"


def test_cold_variable_from_env(cold):
    code, _, path, log = cold["variable.py"]
    assert code == 0, log
    check(json.loads(path.read_text()), VARIABLE_SET, str(CORPUS), "variable.py")


def test_cold_timeout(cold):
    code, seconds, path, log = cold["hang.py"]
    assert code == 1, log
    check(json.loads(path.read_text()), HANG, str(CORPUS), "hang.py")


def test_warnings_have_locations(served, matrix_version):
    for result in served.values():
        for w in result["warnings"]:
            assert w["file"] and isinstance(w["line"], int) and w["category"] and "message" in w
