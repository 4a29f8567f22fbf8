"""Where a warm parse's time goes, measured in one process on the same files (PYTHONPATH = the harness).

Usage: python breakdown.py DAGS_FOLDER FILE...  -> JSON {stage: median ms} on stdout

Stages, each on every file:
  dagbag             Airflow's DagBag in this warm process (the floor)
  serializer         Airflow's serializer on those DAGs (the harness runs it: a DAG it rejects is an import error)
  harness            the harness's whole parse in this process (DagBag, serializer, lines, result), no fork
  fork               fork a child that exits at once, and reap it
  child              the harness's parse in a fresh fork: the page faults of copy-on-write are paid here
  childFaults        minor page faults of that child during its parse (a count, not ms)
  prewarmedChild     the same in a child that first parsed the harness's own DAG (what `serve` does when idle)
  prewarmedFaults    its page faults during the parse
  serveRoundTrip     one request through `serve` (fork ahead, parse, result back on the pipe), one after another
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time


def ms(seconds):
    return seconds * 1000


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def in_child(fn):
    """Runs fn() in a fork; returns what it returned (JSON-able)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, json.dumps(fn()).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def main():
    folder, *files = sys.argv[1:]
    from airflow_runtime_harness import env, warmup

    env.prepare()
    from airflow_runtime_harness import compat
    from airflow_runtime_harness.parse import parse_in_process

    compat.preload()
    warmup.warm_server()  # as `serve` does: our own DAG parsed once, then gc.freeze()
    import logging

    logging.disable(logging.INFO)  # the floor's process logs the same lines; keep both quiet
    times = {
        k: [] for k in ("dagbag", "serializer", "harness", "fork", "child", "childFaults", "prewarmedChild", "prewarmedFaults")
    }
    for file in files:
        started = time.perf_counter()
        bag = compat.load_file(file, folder)
        parsed = time.perf_counter()
        for dag in bag.dags.values():
            compat.serialize(dag)
        times["dagbag"].append(ms(parsed - started))
        times["serializer"].append(ms(time.perf_counter() - parsed))
    for file in files:
        started = time.perf_counter()
        parse_in_process(file, folder)
        times["harness"].append(ms(time.perf_counter() - started))
    for _file in files:  # one fork per file, as the server makes
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        times["fork"].append(ms(time.perf_counter() - started))

    def timed_parse(file, prewarm):
        def run():
            if prewarm:
                warmup.parse_own_dag()
            before, started = faults(), time.perf_counter()
            parse_in_process(file, folder)
            return [ms(time.perf_counter() - started), faults() - before]

        return run

    for file in files:
        took, count = in_child(timed_parse(file, False))
        times["child"].append(took)
        times["childFaults"].append(count)
        took, count = in_child(timed_parse(file, True))
        times["prewarmedChild"].append(took)
        times["prewarmedFaults"].append(count)
    out = {k: statistics.median(v) for k, v in times.items()}
    out["serveRoundTrip"] = serve_round_trip(folder, files)
    print(json.dumps(out))


def serve_round_trip(folder, files):
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_runtime_harness", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None  # both asked for as pipes
    stdout.readline()
    took = []
    for i, file in enumerate([files[0]] + files):
        started = time.perf_counter()
        stdin.write(json.dumps({"id": i, "file": file, "dagsFolder": folder, "timeout": 60}) + "\n")
        stdin.flush()
        json.loads(stdout.readline())
        if i:
            took.append(ms(time.perf_counter() - started))
    stdin.close()
    proc.wait(timeout=60)
    return statistics.median(took)


if __name__ == "__main__":
    main()
