"""The floor: Airflow's own DagBag in one warm process, timing each file. Also the fresh-process time.

Usage: python floor.py warm FILE...   -> JSON {file: ms} on stdout (after one warm-up parse)
       python floor.py once FILE      -> parses FILE once (timed from outside, as a user's fresh process)
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


if __name__ == "__main__":
    mode, files = sys.argv[1], sys.argv[2:]
    if mode == "once":
        dagbag(files[0])
        sys.exit(0)
    dagbag(files[0])  # warm-up: the first parse pays for imports that later ones share
    times = {}
    for path in files:
        started = time.perf_counter()
        dagbag(path)
        times[path] = (time.perf_counter() - started) * 1000
    print(json.dumps(times))
