"""Airflow's own view of a project's DAGs folder, for the project tests: run with a venv's python.

Usage: python dagbag_reference.py OUT.json DAGS_FOLDER
The caller sets the environment an image of that layout has (PYTHONPATH, [core] settings, the working
folder). Airflow finds the DAG files itself (list_py_file_paths: .airflowignore, safe mode) and loads
each with its own DagBag, one file at a time as its DAG processor does; we record which files it
found, their DAG ids, task ids, edges and import-error files. Only the environment comes from the
harness (private AIRFLOW_HOME, migrated SQLite DB); no harness parsing code is used.
"""
import inspect
import json
import os
import sys
from pathlib import Path

from airflow_runtime_harness import env

out_path, folder = sys.argv[1], os.path.abspath(sys.argv[2])
env.prepare(folder)

import airflow  # noqa: E402
from airflow.utils.file import list_py_file_paths  # noqa: E402

AIRFLOW3 = int(airflow.__version__.split(".")[0]) >= 3


def bag_of(file):
    if not AIRFLOW3:
        from airflow.models.dagbag import DagBag

        return DagBag(dag_folder=file, include_examples=False, safe_mode=False, load_op_links=False)
    try:
        from airflow.dag_processing.dagbag import BundleDagBag
    except ImportError:
        try:
            from airflow.models.dagbag import BundleDagBag
        except ImportError:
            BundleDagBag = None
    if BundleDagBag is not None:
        return BundleDagBag(dag_folder=file, bundle_path=Path(folder), load_op_links=False, safe_mode=False,
                            **({"bundle_name": "dags-folder"} if "bundle_name" in inspect.signature(BundleDagBag.__init__).parameters else {}))
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=file, bundle_path=Path(folder), include_examples=False, load_op_links=False,
                  safe_mode=False)


files = sorted(os.path.abspath(f) for f in (list_py_file_paths(folder, safe_mode=True)
                                             if AIRFLOW3 else list_py_file_paths(folder, safe_mode=True, include_examples=False)))
results = {}
for file in files:
    bag = bag_of(file)
    error_files = {os.path.abspath(k if os.path.isabs(k) else os.path.join(folder, k)) for k in bag.import_errors}
    dags = {}
    for dag_id, dag in bag.dags.items():
        try:
            from airflow.serialization import serialized_objects as so

            (getattr(so, "DagSerialization", None) or so.SerializedDAG).to_dict(dag)
        except Exception:
            error_files.add(file)
            continue
        dags[dag_id] = {t.task_id: [sorted(t.upstream_task_ids), sorted(t.downstream_task_ids)] for t in dag.tasks}
    results[file] = {"dags": dags, "errorFiles": sorted(error_files)}
with open(out_path, "w") as fh:
    json.dump({"files": files, "results": results}, fh)
