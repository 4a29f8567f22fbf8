"""Where a warm parse's time goes on a real-project-shaped file, with and without the pre-import.

Usage: python preimport_breakdown.py DAGS_FOLDER FILE...  (PYTHONPATH = the harness and the project root)
       -> JSON {stage: median ms} on stdout

Stages, each on every file (one process: the harness's server state, then forks of it):
  dagbag          Airflow's DagBag in this warm process, imports shared after the first file (the floor)
  childPlain      the harness's parse in a fresh fork of a server that imported Airflow only (every child
                  imports the providers and libraries again: `--no-pre-import`, and before this change)
  preImport       the server's pre-import for the first file and what its child taught it (probe fork and
                  import in the server; once per server, not per file)
  childPre        the harness's parse in a fresh fork after the pre-import (what `serve` forks now)
  learnedModules  modules the server imported (a count)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time


def in_child(fn):
    """Runs fn() in a fork; returns (ms from fork to its answer, what it returned)."""
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_fd, json.dumps(fn()).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    data = b""
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        data += chunk
    elapsed = (time.perf_counter() - started) * 1000
    os.close(read_fd)
    os.waitpid(pid, 0)
    return elapsed, json.loads(data)


def main() -> None:
    folder, *files = sys.argv[1:]
    from airflow_runtime_harness import env, preimport, warmup

    env.prepare()
    from airflow_runtime_harness import compat
    from airflow_runtime_harness.parse import parse_in_process

    compat.preload()
    warmup.warm_server()

    def parse(file):
        def job():
            before = set(sys.modules)
            result = parse_in_process(file, folder)
            if result["importErrors"]:
                raise SystemExit(result["importErrors"][0]["message"])
            return preimport.imported_since(before)

        return job

    plain = [in_child(parse(f))[0] for f in files]

    def floor():
        bags = []
        for f in files[:1] + files:
            started = time.perf_counter()
            compat.load_file(f, folder)
            bags.append((time.perf_counter() - started) * 1000)
        return bags[1:]

    _, dagbag = in_child(floor)

    pre = preimport.PreImporter()
    before = len(sys.modules)
    started = time.perf_counter()
    pre.prepare(files[0], folder)
    _, learned = in_child(parse(files[0]))
    pre.learn(learned)
    pre.prepare(files[0], folder)
    pre_ms = (time.perf_counter() - started) * 1000
    import gc

    gc.freeze()
    after = [in_child(parse(f))[0] for f in files]
    print(
        json.dumps(
            {
                "dagbag": statistics.median(dagbag),
                "childPlain": statistics.median(plain),
                "preImport": pre_ms,
                "childPre": statistics.median(after),
                "learnedModules": len(sys.modules) - before,
            }
        )
    )


if __name__ == "__main__":
    main()
