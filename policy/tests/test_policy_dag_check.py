"""dag_policy: a DAG parsed in another runtime than its own, or with a manifest that cannot be used,
is an import error that says why."""

import json

from .support import RUNTIME_A, RUNTIME_B


def errors_for(report: dict, name: str) -> list[str]:
    return [message for path, message in report["import_errors"].items() if path.endswith(name)]


def test_a_dag_parsed_by_another_runtimes_processor_is_an_import_error_naming_its_runtime(project, probe):
    report = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"), "AIRFLOW_RUNTIME_ID": RUNTIME_B})

    (error,) = errors_for(report, "orders.py")
    assert "AirflowClusterPolicyViolation" in error
    assert f"team_a/orders.py belongs to runtime {RUNTIME_A}" in error
    assert f"parsed by the processor of runtime {RUNTIME_B}" in error
    assert "orders" not in report["dags"]
    assert "report" in report["dags"] and errors_for(report, "report.py") == []


def test_a_dag_not_in_the_manifest_is_refused_by_a_processor_that_knows_its_runtime(project, probe):
    report = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"), "AIRFLOW_RUNTIME_ID": RUNTIME_A})

    (error,) = errors_for(report, "unlisted.py")
    assert "loose/unlisted.py is not in the manifest" in error


def test_a_dag_parsed_in_its_own_runtime_loads(project, probe):
    report = probe(
        project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"), "AIRFLOW_RUNTIME_ID": RUNTIME_A}, bags=["team_a"]
    )

    assert report["import_errors"] == {}
    assert list(report["dags"]) == ["orders"]
    assert report["dags"]["orders"]["tasks"]["extract"]["queue"] == "team_a"


def test_a_manifest_of_another_format_is_an_import_error_for_every_dag(project, probe):
    manifest = json.loads((project / "manifest.json").read_text())
    manifest["format"] = "airflow-runtime/manifest@2"
    (project / "manifest.json").write_text(json.dumps(manifest))

    report = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json")})

    assert report["dags"] == {}
    assert len(report["import_errors"]) == 3
    for error in report["import_errors"].values():
        assert "has format 'airflow-runtime/manifest@2'" in error
        assert "reads 'airflow-runtime/manifest@1'" in error


def test_a_missing_or_broken_manifest_is_an_import_error_that_names_the_file(project, probe):
    (project / "broken.json").write_text('{"format": "airflow-runtime/manifest@1", "runtimes": [')
    broken = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "broken.json")}, bags=["team_b"])
    missing = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "nowhere.json")}, bags=["team_b"])

    (error,) = errors_for(broken, "report.py")
    assert f"cannot read the manifest {project / 'broken.json'}" in error
    (error,) = errors_for(missing, "report.py")
    assert f"cannot read the manifest {project / 'nowhere.json'}: No such file or directory" in error


def test_a_setting_set_but_empty_is_an_import_error_not_silence(project, probe):
    empty = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": ""}, bags=["team_b"])
    (error,) = errors_for(empty, "report.py")
    assert "AIRFLOW_RUNTIME_MANIFEST is set but empty" in error
