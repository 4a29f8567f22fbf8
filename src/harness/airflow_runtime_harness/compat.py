"""The few places where Airflow 2.x and 3.x differ, chosen by the installed version."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import airflow

VERSION = airflow.__version__
MAJOR = int(VERSION.split(".")[0])
AIRFLOW3 = MAJOR >= 3


def dag_class():
    if AIRFLOW3:
        from airflow.sdk.definitions.dag import DAG
    else:
        from airflow.models.dag import DAG
    return DAG


def operator_partial_class():
    try:
        if AIRFLOW3:
            from airflow.sdk.definitions.mappedoperator import OperatorPartial
        else:
            from airflow.models.mappedoperator import OperatorPartial
        return OperatorPartial
    except ImportError:
        return None


def use_dags_folder(folder: str) -> None:
    """Point Airflow at this DAGs folder, also after import (serve forks one Airflow for many folders)."""
    folder = os.path.abspath(folder)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = folder
    from airflow import settings
    from airflow.configuration import conf

    if not conf.has_section("core"):  # no airflow.cfg in AIRFLOW_HOME (e.g. a bare image)
        conf.add_section("core")
    conf.set("core", "dags_folder", folder)
    settings.DAGS_FOLDER = folder
    if folder not in sys.path:
        sys.path.append(folder)  # as Airflow's prepare_syspath does: helpers import by name


def load_file(file: str, folder: str):
    """Load exactly one file with Airflow's own DagBag, the way its DAG processor does."""
    if AIRFLOW3:
        # dag_processing.processor._parse_file: BundleDagBag(dag_folder=file, bundle_path=..., ...)
        from airflow.dag_processing.dagbag import BundleDagBag

        return BundleDagBag(
            dag_folder=file, bundle_path=Path(folder), bundle_name=BUNDLE_NAME,
            load_op_links=False, safe_mode=False,
        )
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=file, include_examples=False, safe_mode=False, read_dags_from_db=False,
                  load_op_links=False)


BUNDLE_NAME = "dags-folder"  # Airflow 3's default bundle for [core] dags_folder


def sync_to_db(bag) -> None:
    """Airflow 3: write this file's DAGs (serialized) to the metadata DB, like dag.test() does,
    but for this one file instead of the whole bundle."""
    from airflow import settings
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    session = settings.Session()
    try:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.commit()
    finally:
        session.close()
    sync_bag_to_db(bag, BUNDLE_NAME, None)


def serialize(dag) -> dict:
    if AIRFLOW3:
        from airflow.serialization.serialized_objects import DagSerialization

        return DagSerialization.to_dict(dag)
    from airflow.serialization.serialized_objects import SerializedDAG

    return SerializedDAG.to_dict(dag)


def schedule_of(dag):
    """The schedule as the author wrote it when it is a string, else the timetable's summary."""
    timetable = getattr(dag, "timetable", None)
    if timetable is not None and type(timetable).__name__ == "NullTimetable":
        return None
    raw = getattr(dag, "schedule", None) if AIRFLOW3 else getattr(dag, "schedule_interval", None)
    if isinstance(raw, str):
        return raw
    if raw is None and timetable is None:
        return None
    summary = getattr(timetable, "summary", None)
    return str(summary) if summary is not None else None


def is_mapped(task) -> bool:
    if AIRFLOW3:
        from airflow.sdk.definitions.mappedoperator import MappedOperator
    else:
        from airflow.models.mappedoperator import MappedOperator
    return isinstance(task, MappedOperator)


def task_group_id(task):
    group = getattr(task, "task_group", None)
    if group is None or getattr(group, "is_root", False):
        return None
    return group.group_id


def preload() -> None:
    """Warm imports for serve: what nearly every DAG file pulls in, loaded once before forking."""
    import importlib

    names = ["airflow.serialization.serialized_objects"]
    if AIRFLOW3:
        names += ["airflow.dag_processing.dagbag", "airflow.sdk", "airflow.providers.standard.operators.python",
                  "airflow.providers.standard.operators.bash", "airflow.providers.standard.operators.empty"]
    else:
        names += ["airflow.models.dagbag", "airflow.decorators", "airflow.operators.python",
                  "airflow.operators.bash", "airflow.operators.empty"]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
