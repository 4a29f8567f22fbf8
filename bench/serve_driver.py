"""Drives a harness `serve` directly (no engine, no Node): the harness's own share of a warm parse.

Usage: python serve_driver.py HARNESS_DIR CACHE_DIR DAGS_FOLDER OUT_DIR MODE FILE...
  MODE seq    one request after another, each sent when the previous reply came
       idle   the same with a pause before each request (a file saved now and then)
       burst  every request at once; the harness answers as it can (wall-clock for all)
Prints JSON {"times": [ms per request], "wall": ms}. Requests name an `out` file, which every
version of the protocol understands, so an older harness can be measured the same way.
"""

import json
import os
import subprocess
import sys
import time

IDLE_SECONDS = 0.5


def main():
    harness, cache, folder, out_dir, mode, *files = sys.argv[1:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON")) and k != "VIRTUAL_ENV"}
    env.update(PYTHONPATH=harness, AIRFLOW_RUNTIME_CACHE=cache, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_runtime_harness", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
        bufsize=1,
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None  # both asked for as pipes
    if not json.loads(stdout.readline()).get("ready"):
        raise SystemExit("serve did not start")

    def send(i, file):
        stdin.write(
            json.dumps({"id": i, "file": file, "dagsFolder": folder, "timeout": 60, "out": os.path.join(out_dir, f"{i}.json")})
            + "\n"
        )
        stdin.flush()

    def receive():
        reply = json.loads(stdout.readline())
        if not reply.get("ok"):
            raise SystemExit(f"serve failed: {reply}")
        return reply

    send(0, files[0])  # the server's first parse is not a warm one
    receive()
    times = []
    started = time.perf_counter()
    if mode == "burst":
        for i, file in enumerate(files, 1):
            send(i, file)
        for _ in files:
            receive()
    else:
        for i, file in enumerate(files, 1):
            if mode == "idle":
                time.sleep(IDLE_SECONDS)
            began = time.perf_counter()
            send(i, file)
            receive()
            times.append((time.perf_counter() - began) * 1000)
    wall = (time.perf_counter() - started) * 1000
    stdin.close()
    proc.wait(timeout=60)
    print(json.dumps({"times": times, "wall": wall}))


if __name__ == "__main__":
    main()
