"""The few places where Airflow 2.x and 3.x differ, chosen by the installed version."""

from __future__ import annotations

import datetime
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


def dag_node_class():
    """The base of operators and task groups whose ``_set_relatives`` every edge goes through."""
    try:
        if AIRFLOW3:
            from airflow.sdk.definitions._internal.node import DAGNode
        else:
            from airflow.models.taskmixin import DAGNode
        return DAGNode
    except ImportError:
        return None


def stability_check(file: str):
    """Airflow 3.2+'s DAG stability check, as its DAG processor runs it before parsing a file:
    (level, [(line, col, code, message)]); (None, []) where this Airflow has no such check."""
    try:
        from airflow.utils.dag_version_inflation_checker import check_dag_file_stability
    except ImportError:
        return None, []
    result = check_dag_file_stability(file)
    level = getattr(result.check_level, "value", str(result.check_level))
    found = [(w.line, w.col, w.code, w.message) for w in result.warnings.values()]
    return level, sorted(found)


def use_dags_folder(folder: str, on_sys_path: bool = True) -> None:
    """Point Airflow at this DAGs folder, also after import (serve forks one Airflow for many folders). Without
    `on_sys_path` (serve's pre-import, which must never import from the workspace) sys.path is left alone."""
    folder = os.path.abspath(folder)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = folder
    from airflow import settings
    from airflow.configuration import conf

    if not conf.has_section("core"):  # no airflow.cfg in AIRFLOW_HOME (e.g. a bare image)
        conf.add_section("core")
    conf.set("core", "dags_folder", folder)
    settings.DAGS_FOLDER = folder
    if on_sys_path and folder not in sys.path:
        sys.path.append(folder)  # as Airflow's prepare_syspath does: helpers import by name


def _bundle_dag_bag_class():
    """Airflow 3's BundleDagBag: in dag_processing (3.2+), in models (3.1); None before 3.1."""
    for module in ("airflow.dag_processing.dagbag", "airflow.models.dagbag"):
        try:
            return __import__(module, fromlist=["BundleDagBag"]).BundleDagBag
        except (ImportError, AttributeError):
            continue
    return None


def load_file(file: str, folder: str):
    """Load exactly one file with Airflow's own DagBag, the way its DAG processor does."""
    if AIRFLOW3:
        # dag_processing.processor._parse_file: BundleDagBag(dag_folder=file, bundle_path=..., ...) on
        # 3.1+, DagBag(dag_folder=file, bundle_path=..., include_examples=False) on 3.0
        bundle_bag = _bundle_dag_bag_class()
        if bundle_bag is not None:
            import inspect

            # 3.2+ names the bundle; 3.1's BundleDagBag takes only its path
            named = "bundle_name" in inspect.signature(bundle_bag.__init__).parameters
            return bundle_bag(
                dag_folder=file,
                bundle_path=Path(folder),
                load_op_links=False,
                safe_mode=False,
                **({"bundle_name": BUNDLE_NAME} if named else {}),
            )
        from airflow.models.dagbag import DagBag

        return DagBag(dag_folder=file, bundle_path=Path(folder), include_examples=False, load_op_links=False, safe_mode=False)
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=file, include_examples=False, safe_mode=False, read_dags_from_db=False, load_op_links=False)


BUNDLE_NAME = "dags-folder"  # Airflow 3's default bundle for [core] dags_folder


def sync_to_db(bag) -> None:
    """Airflow 3: write this file's DAGs (serialized) to the metadata DB, like dag.test() does,
    but for this one file instead of the whole bundle."""
    from airflow import settings
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    session = settings.Session()
    try:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.commit()
    finally:
        session.close()
    try:
        from airflow.dag_processing.dagbag import sync_bag_to_db
    except ImportError:
        try:
            from airflow.models.dagbag import sync_bag_to_db
        except ImportError:  # 3.0: a method of the bag
            bag.sync_to_db(BUNDLE_NAME, None)
            return
    sync_bag_to_db(bag, BUNDLE_NAME, None)


def _serializers():
    """(DAG serializer, operator serializer): renamed in 3.2 (DagSerialization, OperatorSerialization)."""
    from airflow.serialization import serialized_objects as so

    dag = getattr(so, "DagSerialization", None) or so.SerializedDAG
    operator = getattr(so, "OperatorSerialization", None) or so.SerializedBaseOperator
    return dag, operator


def serialize(dag) -> dict:
    return _serializers()[0].to_dict(dag)


def serialize_task(task) -> dict:
    return _serializers()[1].serialize_operator(task)


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
    if summary is None and isinstance(raw, datetime.timedelta):
        # Airflow 3's delta timetables have no summary: the delta as Airflow 2's summary says it ("4:00:00")
        summary = raw
    return str(summary) if summary is not None else None


def is_mapped(task) -> bool:
    if AIRFLOW3:
        from airflow.sdk.definitions.mappedoperator import MappedOperator
    else:
        from airflow.models.mappedoperator import MappedOperator
    return isinstance(task, MappedOperator)


def parse_time_map_count(task):
    """How many task instances a mapped task expands to when that is known from the file alone (literal lists),
    else None (it depends on an upstream task's output)."""
    try:
        return task.get_parse_time_mapped_ti_count()
    except AttributeError:  # Airflow 3.3's SDK operators no longer have it: count literal inputs ourselves
        pass
    except Exception:  # NotFullyPopulated: an upstream output decides
        return None
    try:
        value = getattr(task._get_specified_expand_input(), "value", None)
    except Exception:
        return None
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, dict) and value and all(isinstance(v, (list, tuple, dict)) for v in value.values()):
        count = 1
        for v in value.values():
            count *= len(v)
        return count
    return None


def dag_test_task_runner():
    """(module, name) of the function ``dag.test()`` runs each task instance with, as keywords with ``ti``."""
    if AIRFLOW3:
        import airflow.sdk.definitions.dag as module
    else:
        import airflow.models.dag as module
    return module, "_run_task"


def run_dag_test(dag, logical_date, conf=None):
    """``dag.test()`` at this logical date (None: now) with this run conf; returns the DagRun."""
    if AIRFLOW3:
        return dag.test(logical_date=logical_date, run_conf=conf)
    return dag.test(execution_date=logical_date, run_conf=conf)


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
        names += [
            "airflow.dag_processing.dagbag",
            "airflow.sdk",
            "airflow.providers.standard.operators.python",
            "airflow.providers.standard.operators.bash",
            "airflow.providers.standard.operators.empty",
        ]
    else:
        names += [
            "airflow.models.dagbag",
            "airflow.decorators",
            "airflow.operators.python",
            "airflow.operators.bash",
            "airflow.operators.empty",
        ]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
