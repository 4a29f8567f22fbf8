"""`render`: a task's templated fields for a logical date, as `airflow tasks render`; a broken template named."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import harness_env

DAG_FILE = Path(__file__).with_name("render_dags") / "render_tasks.py"
MARKER = "@@airflow-runtime-event"
CASES = {
    "dated": ["--task-id", "dated", "--date", "2024-03-05"],
    "undefined": ["--task-id", "undefined", "--date", "2024-03-05"],
    "bad_syntax": ["--task-id", "bad_syntax", "--date", "2024-03-05"],
    "mapped": ["--task-id", "mapped", "--map-index", "1", "--date", "2024-03-05"],
    "mapped_no_index": ["--task-id", "mapped"],
    "no_such_task": ["--task-id", "nope"],
}
_renders: dict = {}


def _events(stderr: str) -> list[dict]:
    return [json.loads(line.split(MARKER, 1)[1]) for line in stderr.splitlines() if MARKER in line]


def _fields(events: list[dict]) -> dict:
    """Field name -> (text, renderer), the pieces of each field joined as an engine joins them."""
    fields: dict = {}
    for e in events:
        if e["event"] == "rendered":
            text, _ = fields.get(e["field"], ("", None))
            fields[e["field"]] = (text + e["text"], e["renderer"])
    return fields


@pytest.fixture(scope="session")
def renders(version, python_for):
    """Every case at once per version (each render is a full Airflow start: seconds)."""
    if version not in _renders:
        procs = {}
        for name, args in CASES.items():
            argv = [
                str(python_for(version)),
                "-m",
                "airflow_runtime_harness",
                "render",
                "--file",
                str(DAG_FILE),
                "--dag-id",
                "render_tasks",
                *args,
            ]
            env = harness_env({"AIRFLOW_VAR_RENDER_GREETING": "hello-from-env", "AIRFLOW_RUNTIME_EVENTS": "1"})
            procs[name] = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _renders[version] = {
            name: (proc.wait(timeout=300), proc.stdout.read(), proc.stderr.read()) for name, proc in procs.items()
        }
    return _renders[version]


def test_render_date_params_and_variable(renders):
    code, out, err = renders["dated"]
    assert code == 0, out + err
    fields = _fields(_events(err))
    assert list(fields) == ["bash_command", "env", "cwd"]  # the operator's template_fields, in order
    assert fields["bash_command"] == ("echo 2024-03-05 emea hello-from-env", "bash")
    assert fields["env"][0] == "{'DAY': '20240305'}"


def test_render_undefined_names_field_and_template(renders):
    code, out, err = renders["undefined"]
    assert code == 1, out + err
    failed = [e for e in _events(err) if e["event"] == "render-failed"]
    assert failed == [
        {
            "event": "render-failed",
            "field": "bash_command",
            "template": "echo {{ no_such_value.here }}",
            "message": "UndefinedError: 'no_such_value' is undefined",
        }
    ]
    assert "Traceback" not in out + err


def test_render_syntax_error_names_field_and_line(renders):
    code, out, err = renders["bad_syntax"]
    assert code == 1, out + err
    (failed,) = [e for e in _events(err) if e["event"] == "render-failed"]
    assert failed["field"] == "bash_command" and failed["template"] == "echo {{ ds }"
    assert failed["message"].startswith("TemplateSyntaxError: ") and "line 1" in failed["message"]
    assert not [e for e in _events(err) if e["event"] == "rendered"]
    assert "Traceback" not in out + err


def test_render_mapped_task_at_a_map_index(renders):
    code, out, err = renders["mapped"]
    assert code == 0, out + err
    assert _fields(_events(err))["bash_command"][0] == "echo second 2024-03-05"


def test_render_usage_problems_exit_2(renders):
    code, _, err = renders["mapped_no_index"]
    assert code == 2
    assert [e["code"] for e in _events(err) if e["event"] == "error"] == ["mapped-needs-index"]
    code, _, err = renders["no_such_task"]
    assert code == 2
    assert "dated" in err and "bad_syntax" in err  # lists what exists


def test_render_long_value_in_pieces(version, python_for, tmp_path):
    """A value longer than one event line arrives whole, in order."""
    dag = tmp_path / "long_render.py"
    dag.write_text(
        DAG_FILE.read_text().replace('dag_id="render_tasks"', 'dag_id="long_render"')
        + '    BashOperator(task_id="long", bash_command="echo " + "{{ ds }}-" * 3000)\n'
    )
    proc = subprocess.run(
        [
            str(python_for(version)),
            "-m",
            "airflow_runtime_harness",
            "render",
            "--file",
            str(dag),
            "--dag-id",
            "long_render",
            "--task-id",
            "long",
            "--date",
            "2024-03-05",
        ],
        env=harness_env({"AIRFLOW_VAR_RENDER_GREETING": "x"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [e for e in _events(proc.stderr) if e["event"] == "rendered" and e["field"] == "bash_command"]
    assert len(events) > 1 and [e["last"] for e in events] == [False] * (len(events) - 1) + [True]
    assert _fields(events)["bash_command"][0] == "echo " + "2024-03-05-" * 3000
