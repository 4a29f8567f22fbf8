"""Fidelity: on every example DAG shipped inside the installed Airflow, our result agrees with
Airflow's own DagBag (same DAG ids, task ids, edges, import-error files)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import FIDELITY, TIMINGS, Server, harness_env


def example_files(python: Path) -> list[tuple[str, str]]:
    code = (
        "import os, airflow; root = os.path.dirname(airflow.__file__)\n"
        "for d, subs, files in sorted(os.walk(root)):\n"
        "    subs.sort()\n"
        "    if '__pycache__' in d: continue\n"
        "    parts = d[len(root):].split(os.sep)\n"
        "    if 'example_dags' not in parts: continue\n"
        "    top = d[:len(root)] + os.sep.join(parts[:parts.index('example_dags') + 1])\n"
        "    for f in sorted(files):\n"
        "        if f.endswith('.py') and f != '__init__.py': print(top + ':' + os.path.join(d, f))\n"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, env=harness_env()).stdout
    return [tuple(line.split(":", 1)) for line in out.splitlines()]


def ours(result: dict) -> dict:
    return {
        "dags": {d["dagId"]: {t["taskId"]: [t["upstream"], t["downstream"]] for t in d["tasks"]} for d in result["dags"]},
        "errorFiles": [result["file"]] if result["importErrors"] else [],
    }


def test_fidelity_examples(matrix_version, python_for, tmp_path):
    version = matrix_version
    python = python_for(version)
    files = example_files(python)
    assert len(files) > 20, files
    ref_path = tmp_path / "reference.json"
    subprocess.run(
        [str(python), str(Path(__file__).with_name("fidelity_reference.py")), str(ref_path)]
        + [f"{folder}:{file}" for folder, file in files],
        check=True,
        env=harness_env(),
        capture_output=True,
        timeout=600,
    )
    reference = json.loads(ref_path.read_text())

    server = Server([str(python), "-m", "airflow_runtime_harness", "serve"], harness_env())
    differ, total_ms = [], 0
    try:
        for i, (folder, file) in enumerate(files):
            out = tmp_path / f"{i}.json"
            reply = server.request(file=file, dagsFolder=folder, out=str(out), timeout=60)
            assert reply["ok"], reply
            total_ms += reply["durationMs"]
            mine = ours(json.loads(out.read_text()))
            if mine != reference[file]:
                differ.append(Path(file).name)
                print("DIFFER", file, "\n ours:", mine, "\n airflow:", reference[file])
    finally:
        server.close()
    FIDELITY[version] = (len(files) - len(differ), len(files), differ)
    TIMINGS[f"example DAGs airflow {version} ({len(files)} files)"] = (
        f"warm serve {total_ms / 1000:.1f}s, Airflow's own DagBag (one warm process) {reference['_seconds']:.1f}s"
    )
    assert not differ, f"{len(differ)} example files differ from Airflow's DagBag: {differ}"
