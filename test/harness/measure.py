"""Measure parse times per Airflow version: cold CLI, warm serve, and Airflow's own DagBag.

    python3 test/harness/measure.py            # uses AIRFLOW_VERSIONS / AIRFLOW_RUNTIME_ENV_CACHE like the tests

Files: the corpus's good files plus the first 10 example DAGs shipped with Airflow.
cold  = a fresh `python -m airflow_runtime_harness parse` per file (imports Airflow every time)
warm  = one `serve` process, one forked child per file
dagbag = Airflow's own DagBag, all files in one warm process (no fork, no serialization, no JSON)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import CORPUS, Server, harness_env, venv_python  # noqa: E402
from conftest import IMAGE_VERSIONS as VERSIONS
from expected import EXPECTED  # noqa: E402
from test_fidelity import example_files  # noqa: E402


def main() -> None:
    rows = []
    for version in VERSIONS:
        python = venv_python(version)
        if not python.exists():
            print(f"airflow {version}: venv missing at {python}", file=sys.stderr)
            continue
        good = [(str(CORPUS), str(CORPUS / n)) for n, e in EXPECTED.items() if not e["errors"] and n != "loud.py"]
        files = good + example_files(python)[:10]
        tmp = Path(tempfile.mkdtemp())
        env = harness_env()
        # warm-up: the one-off DB migration must not count as a cold parse
        subprocess.run(
            [
                str(python),
                "-m",
                "airflow_runtime_harness",
                "parse",
                "--file",
                files[0][1],
                "--dags-folder",
                files[0][0],
                "--out",
                str(tmp / "w.json"),
            ],
            env=env,
            capture_output=True,
        )
        cold = []
        for folder, file in files:
            t = time.monotonic()
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "airflow_runtime_harness",
                    "parse",
                    "--file",
                    file,
                    "--dags-folder",
                    folder,
                    "--out",
                    str(tmp / "c.json"),
                ],
                env=env,
                capture_output=True,
            )
            cold.append(time.monotonic() - t)
        t = time.monotonic()
        server = Server([str(python), "-m", "airflow_runtime_harness", "serve"], env)
        startup = time.monotonic() - t
        warm = []
        for folder, file in files:
            t = time.monotonic()
            server.request(file=file, dagsFolder=folder, out=str(tmp / "s.json"))
            warm.append(time.monotonic() - t)
        server.close()
        ref = tmp / "ref.json"
        subprocess.run(
            [str(python), str(Path(__file__).with_name("fidelity_reference.py")), str(ref)] + [f"{f}:{p}" for f, p in files],
            env=env,
            capture_output=True,
            check=True,
        )
        dagbag_total = json.loads(ref.read_text())["_seconds"]
        rows.append((version, len(files), statistics.median(cold), statistics.median(warm), startup, dagbag_total / len(files)))
    print(
        f"{'airflow':<9} {'files':>5} {'cold parse (median)':>20} {'warm serve (median)':>20} "
        f"{'serve startup':>14} {'own DagBag (mean)':>18}"
    )
    for v, n, c, w, s, d in rows:
        print(f"{v:<9} {n:>5} {c * 1000:>17.0f} ms {w * 1000:>17.0f} ms {s * 1000:>11.0f} ms {d * 1000:>15.0f} ms")


if __name__ == "__main__":
    main()
