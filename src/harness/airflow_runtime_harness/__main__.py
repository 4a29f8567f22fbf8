"""Entry point: python -m airflow_runtime_harness {parse,run,test-dag,render,prepare-cache,serve} ...

Exit codes: 0 success; 1 the user's DAG or task failed (import error, timeout, task failure);
2 usage or harness/infrastructure error (message on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys

# `python -m` puts the current folder first on sys.path; Airflow's processes do not, and a DAG file
# must not import differently depending on where the parse was started from.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from . import env  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="airflow_runtime_harness")
    sub = p.add_subparsers(dest="verb", required=True)

    parse = sub.add_parser("parse", help="parse one DAG file with Airflow's DagBag into a result JSON")
    parse.add_argument("--file", required=True)
    parse.add_argument("--dags-folder", required=True)
    parse.add_argument("--out", required=True)
    parse.add_argument(
        "--timeout", type=float, default=300.0, help="the DAG file's own budget, from the moment Airflow is imported"
    )
    parse.add_argument(
        "--start-timeout", type=float, default=None, help="budget for importing Airflow before the file runs (default: 120)"
    )

    _in_runtime(sub, "run", "run one task the way `airflow tasks test` does", task=True)
    test = _in_runtime(sub, "test-dag", "run the whole DAG the way `airflow dags test` (dag.test()) does", task=False)
    test.add_argument("--conf", default=None, help="the run's conf, a JSON object")
    _in_runtime(sub, "render", "one task's templated fields for a logical date, as `airflow tasks render`", task=True)

    sub.add_parser("prepare-cache", help="make a template DB in the runtime cache (no DAG code runs); print its path and hash")

    serve = sub.add_parser("serve", help="warm mode: parse requests as JSON lines on stdin")
    serve.add_argument("--timeout", type=float, default=300.0, help="default per-request timeout")
    serve.add_argument(
        "--concurrency", type=int, default=None, help="requests parsed at once, each in its own child (default: CPUs, at most 4)"
    )
    serve.add_argument(
        "--no-pre-import",
        dest="pre_import",
        action="store_false",
        help="do not import the installed modules the DAG files use in the server before forking",
    )
    return p


def _in_runtime(sub, verb: str, help: str, task: bool) -> argparse.ArgumentParser:
    """A verb on one DAG (and one task of it) for a logical date: run, test-dag, render."""
    p = sub.add_parser(verb, help=help)
    p.add_argument("--file", required=True)
    p.add_argument("--dag-id", required=True)
    if task:
        p.add_argument("--task-id", required=True)
        p.add_argument("--map-index", type=int, default=-1)
    p.add_argument("--date", default=None, help="YYYY-MM-DD logical date (default: now)")
    p.add_argument("--dags-folder", default=None, help="default: the file's folder")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .import_errors import hide_harness_frames

    hide_harness_frames()
    folder = env.engine_temp_dir()
    if folder:  # the engine removes it too, unless it was killed first
        env.remove_at_exit(folder)
    if args.verb != "serve" and os.environ.get("AIRFLOW_RUNTIME_OWNER_STDIN") == "1":
        env.end_with_owner((os.path.dirname(os.path.abspath(args.out)),) if args.verb == "parse" else ())
    try:
        if args.verb == "parse":
            return _parse(args)
        if args.verb == "prepare-cache":
            import json

            print(json.dumps(env.prepare_cache()))
            return 0
        if args.verb == "run":
            from .run import run

            return run(args)
        if args.verb == "render":
            from .render import render

            return render(args)
        if args.verb == "test-dag":
            from .test_dag import test_dag

            return test_dag(args)
        from .serve import serve

        return serve(args.timeout, args.concurrency, args.pre_import)
    except env.HarnessError as exc:
        env.emit_event("error", code=exc.code, message=str(exc)[-8000:])
        if os.environ.get("AIRFLOW_RUNTIME_EVENTS") != "1":  # an engine tells it from the event, once
            print(f"airflow-runtime harness: {exc}", file=sys.stderr)
        return 2


def _parse(args) -> int:
    from .parse_child import parse_isolated
    from .reap import become_subreaper, kill_descendants
    from .result import write_result

    if not os.path.isfile(args.file):
        raise env.HarnessError(f"no such file: {args.file}")
    subreaper = become_subreaper()  # a daemon the DAG file double-forks is re-parented to us, not to init
    version = env.prepare(args.dags_folder)
    from . import debug

    if debug.asked():
        return _parse_under_debugger(args, version)
    try:
        result = parse_isolated(
            args.file, args.dags_folder, args.timeout if args.timeout > 0 else None, version, start_timeout=args.start_timeout
        )
    finally:
        if subreaper:
            kill_descendants(grace=0.1)
    if "harnessError" in result:
        tail = result.get("output", {}).get("tail", "")
        raise env.HarnessError(
            result["harnessError"] + "\n" + result.get("traceback", "") + tail[-4000:], result.get("code", "harness-failed")
        )
    write_result(result, args.out)
    return 1 if (result["importErrors"] or result["timedOut"]) else 0


def _parse_under_debugger(args, version) -> int:
    """The DAG file's top-level code in this process (no fork, no deadline: a person is stepping through it)."""
    import time

    from . import debug
    from .parse import parse_in_process
    from .result import write_result

    debug.wait_for_client()
    started = time.monotonic()
    result = parse_in_process(args.file, args.dags_folder)
    debug.program_ended()
    result["durationMs"] = int((time.monotonic() - started) * 1000)
    write_result(result, args.out)
    return 1 if (result["importErrors"] or result.get("timedOut")) else 0


if __name__ == "__main__":
    sys.exit(main())
