"""task_policy in Celery and executor modes, and when there is nothing to route by."""

from .support import RUNTIME_A


def queues(report: dict, dag_id: str) -> dict:
    return {task_id: task["queue"] for task_id, task in report["dags"][dag_id]["tasks"].items()}


def test_celery_mode_sends_each_dag_files_tasks_to_its_runtimes_queue(project, probe):
    report = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json")})

    assert report["import_errors"] == {}
    assert queues(report, "orders") == {"extract": "team_a", "own_pod": "team_a", "load": "team_a"}
    assert queues(report, "report") == {"render": "airflow-runtime-rt-bbbbbbbbbbbb"}


def test_a_dag_file_not_in_the_manifest_is_left_alone_and_logged(project, probe):
    report = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json")})

    assert queues(report, "unlisted") == {"alone": "default"}
    assert report["import_errors"] == {}
    assert report["log"].count("DAG file loose/unlisted.py is not in the manifest") == 1


def test_executor_mode_sets_the_runtimes_executor_alias_and_nothing_else(project, probe):
    report = probe(project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"), "AIRFLOW_RUNTIME_MODE": "executor"})

    orders = report["dags"]["orders"]["tasks"]
    assert {t: orders[t]["executor"] for t in orders} == {
        "extract": "celery_team_a",
        "own_pod": "celery_team_a",
        "load": "celery_team_a",
    }
    assert report["dags"]["report"]["tasks"]["render"]["executor"] is None  # runtime B names no executor
    assert set(queues(report, "orders").values()) == {"default"}


def test_without_a_manifest_nothing_changes(project, probe):
    report = probe(project, {"AIRFLOW_RUNTIME_ID": RUNTIME_A})

    assert report["import_errors"] == {}
    assert sorted(report["dags"]) == ["orders", "report", "unlisted"]
    assert {q for dag in report["dags"] for q in queues(report, dag).values()} == {"default"}
    assert "AIRFLOW_RUNTIME_MANIFEST is not set" in report["log"]


def test_the_manifest_is_found_by_dags_folder_when_it_is_set_apart_from_airflows(project, probe, tmp_path):
    elsewhere = tmp_path / "link-to-dags"
    elsewhere.symlink_to(project / "dags")  # e.g. git-sync's symlinked checkout
    report = probe(
        project, {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"), "AIRFLOW_RUNTIME_DAGS_FOLDER": str(elsewhere)}
    )

    assert queues(report, "report") == {"render": "airflow-runtime-rt-bbbbbbbbbbbb"}
