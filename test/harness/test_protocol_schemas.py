"""The harness's real messages against their one definition in media/: the warm server's requests and replies
(serve-protocol.schema.json, with the parse result inline) and the events it tells on stderr
(harness-event.schema.json). The TypeScript side is checked against the same schemas in test/unit.

The schemas are checked with `jsonschema`, from the Airflow venv under test (Airflow depends on it). The two
debugger events (`debug-listening`, `debug-ended`) need debugpy and a client attached: test/unit checks their shape.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import CORPUS, REPO, Server, harness_env

MEDIA = REPO / "media"
MARKER = "@@airflow-runtime-event"
SERVE = "https://airflow-runtime.invalid/serve-protocol.schema.json"
EVENT = "https://airflow-runtime.invalid/harness-event.schema.json"

# Runs in the venv's Python: every (schema reference, message) pair in, the errors of each out.
VALIDATE = r"""
import json, sys
import jsonschema
from referencing import Registry, Resource

given = json.load(sys.stdin)
registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in given["schemas"])
errors = []
for ref, message in given["checks"]:
    validator = jsonschema.Draft7Validator({"$ref": ref}, registry=registry)
    errors.append([f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(message)])
print(json.dumps(errors))
"""

TWO_TASKS_AND_A_FAILURE = '''
from datetime import datetime
from airflow import DAG
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

with DAG(dag_id="three_tasks", schedule=None, start_date=datetime(2024, 1, 1)):
    BashOperator(task_id="first", bash_command="true") >> BashOperator(task_id="second", bash_command="exit 1") >> BashOperator(
        task_id="third", bash_command="true"
    )
'''


def _schema_errors(python: Path, checks: list[tuple[str, object]]) -> list[list[str]]:
    schemas = [
        json.loads((MEDIA / name).read_text())
        for name in ("parse-result.schema.json", "serve-protocol.schema.json", "harness-event.schema.json")
    ]
    proc = subprocess.run(
        [str(python), "-c", VALIDATE],
        input=json.dumps({"schemas": schemas, "checks": checks}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _assert_valid(python: Path, checks: list[tuple[str, object]]) -> None:
    errors = _schema_errors(python, checks)
    invalid = [(message, found) for (_, message), found in zip(checks, errors) if found]
    assert not invalid, json.dumps(invalid, indent=1, default=str)[:8000]


def test_the_schema_checker_refuses_what_the_schemas_refuse(version, python_for):
    """The check below could not pass by accident: a message off the protocol is refused."""
    errors = _schema_errors(
        python_for(version),
        [
            (f"{SERVE}#/definitions/reply", {"id": 1, "ok": True}),
            (f"{SERVE}#/definitions/ready", {"ready": True}),
            (EVENT, {"event": "task", "state": "success"}),
            (EVENT, {"event": "surprise"}),
        ],
    )
    assert all(errors), errors


def test_serve_speaks_the_protocol_of_its_schema(version, python_for, tmp_path):
    """The ready line and every kind of reply: written to `out`, inline (its parse result too), failed (a missing
    file), and a request line it could not read (no id)."""
    python = python_for(version)
    server = Server([str(python), "-m", "airflow_runtime_harness", "serve", "--concurrency", "2"], harness_env())
    try:
        requests = [
            {"file": str(CORPUS / "classic.py"), "dagsFolder": str(CORPUS), "timeout": 60, "out": str(tmp_path / "c.json")},
            {"file": str(CORPUS / "missing_module.py"), "dagsFolder": str(CORPUS), "timeout": 60},
            {"file": str(tmp_path / "no_such_file.py"), "dagsFolder": str(tmp_path), "timeout": 60},
        ]
        replies = [server.request(**request) for request in requests]
        with server.lock:
            server.proc.stdin.write("not json\n")
            server.proc.stdin.flush()
            replies.append(json.loads(server.proc.stdout.readline()))
    finally:
        server.close()

    written, inline, failed, unreadable = replies
    assert written["ok"] and written["out"] == str(tmp_path / "c.json"), written
    assert inline["ok"] and inline["importErrors"] == 1 and inline["result"]["importErrors"], inline
    assert failed["ok"] is False and "no_such_file.py" in failed["error"], failed
    assert unreadable["ok"] is False and unreadable["id"] is None, unreadable
    sent = [{"id": i + 1, **request} for i, request in enumerate(requests)]
    _assert_valid(
        python,
        [(f"{SERVE}#/definitions/ready", server.hello)]
        + [(f"{SERVE}#/definitions/request", request) for request in sent]
        + [(f"{SERVE}#/definitions/reply", reply) for reply in replies]
        + [("https://airflow-runtime.invalid/parse-result.schema.json", json.loads((tmp_path / "c.json").read_text()))],
    )


def _events(stderr: str) -> list[dict]:
    return [json.loads(line.split(MARKER, 1)[1]) for line in stderr.splitlines() if MARKER in line]


def test_the_harness_tells_events_of_its_schema(version, python_for, tmp_path):
    """Every event the verbs tell without a debugger: `started` (parse), `error` (a usage problem), `import-error`
    (a run of a DAG file that does not load), `task` (test-dag), `rendered` and `render-failed` (render)."""
    python = python_for(version)
    (tmp_path / "three_tasks.py").write_text(TWO_TASKS_AND_A_FAILURE)
    (tmp_path / "broken.py").write_text("from airflow import DAG\nimport module_that_is_not_here\n")
    render_dag = Path(__file__).with_name("render_dags") / "render_tasks.py"
    verbs = {
        "parse": ["parse", "--file", str(CORPUS / "classic.py"), "--dags-folder", str(CORPUS), "--out", str(tmp_path / "p.json")],
        "usage": ["run", "--file", str(tmp_path / "three_tasks.py"), "--dag-id", "nope", "--task-id", "first"],
        "broken": ["run", "--file", str(tmp_path / "broken.py"), "--dag-id", "broken", "--task-id", "first"],
        "test-dag": ["test-dag", "--file", str(tmp_path / "three_tasks.py"), "--dag-id", "three_tasks"],
        "render": ["render", "--file", str(render_dag), "--dag-id", "render_tasks", "--task-id", "dated", "--date", "2024-03-05"],
        "render-failed": ["render", "--file", str(render_dag), "--dag-id", "render_tasks", "--task-id", "undefined"],
    }
    env = harness_env({"AIRFLOW_RUNTIME_EVENTS": "1", "AIRFLOW_VAR_RENDER_GREETING": "hello"})
    procs = {
        name: subprocess.Popen(
            [str(python), "-m", "airflow_runtime_harness", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, argv in verbs.items()
    }
    told = {name: _events(proc.communicate(timeout=300)[1]) for name, proc in procs.items()}

    kinds = {name: {event["event"] for event in events} for name, events in told.items()}
    assert "started" in kinds["parse"], told["parse"]
    assert "error" in kinds["usage"], told["usage"]
    assert "import-error" in kinds["broken"], told["broken"]
    assert {(e["taskId"], e["state"]) for e in told["test-dag"] if e.get("final")} >= {
        ("first", "success"),
        ("second", "failed"),
    }, told["test-dag"]
    assert "rendered" in kinds["render"], told["render"]
    assert "render-failed" in kinds["render-failed"], told["render-failed"]
    _assert_valid(python, [(EVENT, event) for events in told.values() for event in events])


def test_a_dag_the_stability_check_refuses_is_an_import_error_of_the_schema(version, python_for, tmp_path):
    """Airflow 3.2+'s DAG stability check at its "error" level loads none of the file's DAGs: each finding is an
    import error at its line, and the result is still one the parse-result schema accepts."""
    if version.startswith("2."):
        pytest.skip("the DAG stability check came in Airflow 3.2")
    python = python_for(version)
    dag = tmp_path / "unstable.py"
    dag.write_text(
        "from datetime import datetime\nfrom airflow import DAG\n\n"
        'with DAG(dag_id="unstable", schedule=None, start_date=datetime.now()):\n    pass\n'
    )
    out = tmp_path / "result.json"
    env = harness_env({"AIRFLOW__DAG_PROCESSOR__DAG_VERSION_INFLATION_CHECK_LEVEL": "error"})
    proc = subprocess.run(
        [str(python), "-m", "airflow_runtime_harness", *f"parse --file {dag} --dags-folder {tmp_path} --out {out}".split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # the file's DAGs did not load
    result = json.loads(out.read_text())
    assert result["dags"] == [], result
    assert [(e["line"], e["message"].split(":")[0]) for e in result["importErrors"]] == [(4, "DAG stability check failed")], (
        result
    )
    _assert_valid(python, [("https://airflow-runtime.invalid/parse-result.schema.json", result)])
