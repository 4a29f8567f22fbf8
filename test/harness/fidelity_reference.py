"""Airflow's own view of DAG files, for the fidelity test: run with a venv's python.

Usage: python fidelity_reference.py OUT.json FOLDER:FILE [FOLDER:FILE ...]
Each file is loaded with Airflow's own DagBag exactly as its DAG processor would (one file at a
time, in one warm process) and we record DAG ids, task ids, edges and import-error files.
Only the environment comes from the harness (private AIRFLOW_HOME, migrated SQLite DB), so both
sides see the same config; no harness parsing code is used.
"""

import inspect
import json
import os
import sys
import time

from airflow_runtime_harness import env

out_path, pairs = sys.argv[1], [a.split(":", 1) for a in sys.argv[2:]]
env.prepare(pairs[0][0] if pairs else None)

import airflow  # noqa: E402

AIRFLOW3 = int(airflow.__version__.split(".")[0]) >= 3
results = {}
started = time.monotonic()
for folder, file in pairs:
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = folder
    if AIRFLOW3:
        from pathlib import Path

        try:  # 3.2+
            from airflow.dag_processing.dagbag import BundleDagBag
        except ImportError:
            try:  # 3.1
                from airflow.models.dagbag import BundleDagBag
            except ImportError:  # 3.0: the DAG processor's DagBag(bundle_path=...)
                BundleDagBag = None
        if BundleDagBag is not None:
            bag = BundleDagBag(
                dag_folder=file,
                bundle_path=Path(folder),
                load_op_links=False,
                safe_mode=False,
                **(
                    {"bundle_name": "dags-folder"} if "bundle_name" in inspect.signature(BundleDagBag.__init__).parameters else {}
                ),
            )
        else:
            from airflow.models.dagbag import DagBag

            bag = DagBag(dag_folder=file, bundle_path=Path(folder), include_examples=False, load_op_links=False, safe_mode=False)
    else:
        from airflow.models.dagbag import DagBag

        bag = DagBag(dag_folder=file, include_examples=False, safe_mode=False, load_op_links=False)
    error_files = {os.path.abspath(k if os.path.isabs(k) else os.path.join(folder, k)) for k in bag.import_errors}
    dags = {}
    for dag_id, dag in bag.dags.items():
        # Airflow's DAG processor serializes every DAG; one that fails becomes an import error
        try:
            from airflow.serialization import serialized_objects as so

            (getattr(so, "DagSerialization", None) or so.SerializedDAG).to_dict(dag)
        except Exception:
            error_files.add(os.path.abspath(file))
            continue
        dags[dag_id] = {t.task_id: [sorted(t.upstream_task_ids), sorted(t.downstream_task_ids)] for t in dag.tasks}
    results[file] = {"dags": dags, "errorFiles": sorted(error_files)}
results["_seconds"] = time.monotonic() - started
with open(out_path, "w") as fh:
    json.dump(results, fh)
