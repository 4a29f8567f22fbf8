"""The `test-dag` verb: the whole DAG run as ``dag.test()`` runs it (``airflow dags test``), in this runtime.

Each task instance's start and end are told to the engine as events (``task``: task id, map index, state,
duration), so the editor can show every task's state as the run goes; the log streams as it happens. Exit 0
when the run succeeds, 1 when it fails.
"""
from __future__ import annotations

import json
import os
import sys
import time

from . import env
from .reap import become_subreaper, kill_descendants


def test_dag(args) -> int:
    subreaper = become_subreaper()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass
    file = os.path.abspath(args.file)
    if not os.path.isfile(file):
        raise env.HarnessError(f"no such file: {file}")
    try:
        conf = json.loads(args.conf) if args.conf else None
    except ValueError as exc:
        raise env.HarnessError(f"--conf is not JSON: {exc}", "usage") from exc
    if conf is not None and not isinstance(conf, dict):
        raise env.HarnessError("--conf must be a JSON object", "usage")
    folder = os.path.abspath(args.dags_folder or os.path.dirname(file))
    env.prepare(folder)
    try:
        return _test(args, file, folder, conf)
    finally:
        left = kill_descendants()
        if left:
            print(f"airflow-runtime harness: stopped {left} process(es) the run left behind"
                  + ("" if subreaper else " (not a subreaper: double-forked ones may survive)"), file=sys.stderr)


def _test(args, file: str, folder: str, conf) -> int:
    from . import compat
    from .run import _logical_date, _state

    compat.use_dags_folder(folder)
    bag = compat.load_file(file, folder)
    dag = bag.dags.get(args.dag_id)
    if dag is None:
        found = ", ".join(sorted(bag.dags)) or "none"
        msg = f"DAG '{args.dag_id}' not found in {file}. DAGs in this file: {found}."
        for key, text in bag.import_errors.items():
            msg += f"\nImport error in {key}:\n{text}"
        raise env.HarnessError(msg)

    module, name = compat.dag_test_task_runner()
    original = getattr(module, name)

    def told(*a, **kw):
        ti = kw.get("ti")
        if ti is None:
            return original(*a, **kw)
        started = time.monotonic()
        env.emit_event("task", taskId=ti.task_id, mapIndex=ti.map_index, state="running")
        try:
            return original(*a, **kw)
        finally:
            try:
                ti.refresh_from_db()
            except Exception:
                pass
            env.emit_event("task", taskId=ti.task_id, mapIndex=ti.map_index, state=_state(ti) or "unknown",
                           durationMs=int((time.monotonic() - started) * 1000))

    setattr(module, name, told)
    try:
        run = compat.run_dag_test(dag, _logical_date(args.date), conf)
    finally:
        setattr(module, name, original)
    # the tasks the run never started (upstream failed, skipped) say so too
    for ti in run.get_task_instances():
        env.emit_event("task", taskId=ti.task_id, mapIndex=ti.map_index, state=_state(ti) or "none", final=True)
    state = _state(run)
    failed = sorted({ti.task_id for ti in run.get_task_instances() if _state(ti) in ("failed", "upstream_failed")})
    print(f"airflow-runtime harness: DAG {args.dag_id} run {state or 'unknown'}"
          + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 0 if state == "success" else 1
