"""The `test-dag` verb: the whole DAG run as ``dag.test()`` runs it (``airflow dags test``), in this runtime.

Each task instance's start and end are told to the engine as events (``task``: task id, map index, state,
duration), so the editor can show every task's state as the run goes; the log streams as it happens. Exit 0
when the run succeeds, 1 when it fails.
"""

from __future__ import annotations

import json
import sys
import time

from . import env
from .run import in_run_process, load_dag, logical_date, state_of


def test_dag(args) -> int:
    try:
        conf = json.loads(args.conf) if args.conf else None
    except ValueError as exc:
        raise env.HarnessError(f"--conf is not JSON: {exc}", "usage") from exc
    if conf is not None and not isinstance(conf, dict):
        raise env.HarnessError("--conf must be a JSON object", "usage")
    return in_run_process(args, lambda file, folder: _test(args, file, folder, conf), "the run")


def _test(args, file: str, folder: str, conf) -> int:
    from . import compat

    _, dag = load_dag(file, folder, args.dag_id)

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
            env.emit_event(
                "task",
                taskId=ti.task_id,
                mapIndex=ti.map_index,
                state=state_of(ti) or "unknown",
                durationMs=int((time.monotonic() - started) * 1000),
            )

    setattr(module, name, told)
    try:
        run = compat.run_dag_test(dag, logical_date(args.date), conf)
    finally:
        setattr(module, name, original)
    # the tasks the run never started (upstream failed, skipped) say so too
    for ti in run.get_task_instances():
        env.emit_event("task", taskId=ti.task_id, mapIndex=ti.map_index, state=state_of(ti) or "none", final=True)
    state = state_of(run)
    failed = sorted({ti.task_id for ti in run.get_task_instances() if state_of(ti) in ("failed", "upstream_failed")})
    print(
        f"airflow-runtime harness: DAG {args.dag_id} run {state or 'unknown'}"
        + (f"; failed: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
    return 0 if state == "success" else 1
