"""The floor: Airflow's own DagBag in one warm process, timing each file. Also the fresh-process time.

Usage: python floor.py warm FILE...   -> JSON {"dagbag": {file: ms}, "serializer": {file: ms}} on stdout
                                         (after one warm-up parse; "serializer" is the time Airflow's
                                         serializer takes on the file's DAGs, in a second pass)
       python floor.py once FILE      -> parses FILE once (timed from outside, as a user's fresh process)
       python floor.py command FILE...-> DagBag per file in this one process, nothing else: the whole-command
                                         floor (timed from outside, container start and Airflow's import included)
       python floor.py forks N FILE...-> Airflow's own fork-per-file model: this process imports Airflow, then
                                         each file is parsed by DagBag in a fork of it, N at once (Airflow's
                                         [dag_processor] parsing_processes, default 2); nothing pre-imported
"""

import json
import sys
import time
import warnings

warnings.simplefilter("ignore")


def dagbag(path):
    try:
        from airflow.models.dagbag import DagBag  # Airflow 2

        return DagBag(path, include_examples=False, safe_mode=False)
    except TypeError:  # Airflow 3 has no include_examples
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(path, safe_mode=False)


def serialize(dag):
    try:
        from airflow.serialization.serialized_objects import DagSerialization  # Airflow 3

        return DagSerialization.to_dict(dag)
    except ImportError:
        from airflow.serialization.serialized_objects import SerializedDAG

        return SerializedDAG.to_dict(dag)


def serialize_all(bag):
    for dag in bag.dags.values():
        try:
            serialize(dag)
        except Exception:
            pass  # the harness reports these as import errors; here only the time counts


if __name__ == "__main__":
    mode, files = sys.argv[1], sys.argv[2:]
    if mode == "once":
        dagbag(files[0])
        sys.exit(0)
    if mode == "command":
        for path in files:
            dagbag(path)
        sys.exit(0)
    if mode == "forks":
        import os

        at_once, files = int(files[0]), files[1:]
        try:  # what Airflow's DAG processor has imported when it forks
            from airflow.dag_processing.dagbag import DagBag  # noqa: F401  Airflow 3
        except ImportError:
            from airflow.models.dagbag import DagBag  # noqa: F401  Airflow 2
        running = set()
        for path in files:
            if len(running) >= at_once:
                running.discard(os.wait()[0])
            pid = os.fork()
            if pid == 0:
                try:
                    dagbag(path)
                finally:
                    os._exit(0)
            running.add(pid)
        while running:
            running.discard(os.wait()[0])
        sys.exit(0)
    dagbag(files[0])  # warm-up: the first parse pays for imports that later ones share
    times = {}
    for path in files:
        started = time.perf_counter()
        dagbag(path)
        times[path] = (time.perf_counter() - started) * 1000
    # apart, so that the floor above is DagBag alone, exactly as before
    serialize_all(dagbag(files[0]))
    serializer = {}
    for path in files:
        bag = dagbag(path)
        started = time.perf_counter()
        serialize_all(bag)
        serializer[path] = (time.perf_counter() - started) * 1000
    print(json.dumps({"dagbag": times, "serializer": serializer}))
