"""The manifest the policy tests deploy: runtime A (team_a/) and runtime B (team_b/); loose/ is in neither."""

RUNTIME_A = "rt-aaaaaaaaaaaa"
RUNTIME_B = "rt-bbbbbbbbbbbb"
MANIFEST = {
    "format": "airflow-runtime/manifest@1",
    "generator": "policy tests",
    "dagsFolder": "dags",
    "runtimes": [
        {
            "id": RUNTIME_A,
            "image": "registry.example.com/team-a/airflow:2024.06",
            "digest": None,
            "queue": "team_a",
            "executor": "celery_team_a",
            "env": {"TEAM": "team_a", "AIRFLOW_CONN_WAREHOUSE": None},
            "resources": {"memory": "2g", "cpus": 1.5},
            "bundles": [{"name": f"airflow-runtime-{RUNTIME_A}-team_a", "path": "team_a"}],
        },
        {
            "id": RUNTIME_B,
            "image": "registry.example.com/team-b/airflow:7",
            "digest": None,
            "queue": f"airflow-runtime-{RUNTIME_B}",
            "executor": None,
            "env": {"TEAM": "team_b"},
            "resources": {"memory": "512m", "cpus": 1},
            "bundles": [{"name": f"airflow-runtime-{RUNTIME_B}-team_b", "path": "team_b"}],
        },
    ],
    "files": [
        {"path": "team_a/orders.py", "runtime": RUNTIME_A},
        {"path": "team_b/report.py", "runtime": RUNTIME_B},
    ],
}
