"""The `run` verb: one task, the way `airflow tasks test` does, on Airflow 2 and 3.

We parse the file with the same DagBag as `parse`, check the ids (exit 2 with what exists), then
hand the DAG object to Airflow's own CLI function `task_command.task_test(args, dag=dag)`:
- Airflow 2: `ti.run(test_mode=True)`; a failing task raises, which is our exit 1.
- Airflow 3 (no `tasks test -S`): the same function runs the task in-process through the
  Task SDK (`run_task_in_process`, what `dag.test()` uses) against the migrated SQLite DB; it
  does not raise on failure, so we read the task instance's final state.
Connections and Variables come from the environment (AIRFLOW_CONN_*, AIRFLOW_VAR_*) as usual.
"""
from __future__ import annotations

import os
import sys
import traceback

from . import env
from .reap import become_subreaper, kill_descendants


def run(args) -> int:
    subreaper = become_subreaper()  # before the task starts anything
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # log lines as they happen
        except Exception:
            pass
    file = os.path.abspath(args.file)
    if not os.path.isfile(file):
        raise env.HarnessError(f"no such file: {file}")
    folder = os.path.abspath(args.dags_folder or os.path.dirname(file))
    env.prepare(folder)
    try:
        return _run(args, file, folder)
    finally:
        left = kill_descendants()
        if left:
            print(f"airflow-runtime harness: stopped {left} process(es) the task left behind"
                  + ("" if subreaper else " (not a subreaper: double-forked ones may survive)"), file=sys.stderr)


def _run(args, file: str, folder: str) -> int:
    from . import compat

    compat.use_dags_folder(folder)
    bag = compat.load_file(file, folder)
    dag = bag.dags.get(args.dag_id)
    if dag is None:
        found = ", ".join(sorted(bag.dags)) or "none"
        msg = f"DAG '{args.dag_id}' not found in {file}. DAGs in this file: {found}."
        for key, text in bag.import_errors.items():
            msg += f"\nImport error in {key}:\n{text}"
        raise env.HarnessError(msg)
    if args.task_id not in dag.task_dict:
        raise env.HarnessError(
            f"task '{args.task_id}' not found in DAG '{args.dag_id}'. Tasks: {', '.join(sorted(dag.task_dict))}."
        )

    from airflow.cli import cli_parser
    from airflow.cli.commands import task_command

    argv = ["tasks", "test", args.dag_id, args.task_id]
    if args.date:
        argv.append(args.date)
    if args.map_index is not None and args.map_index >= 0:
        argv += ["--map-index", str(args.map_index)]
    cli_args = cli_parser.get_parser().parse_args(argv)

    states = []
    if compat.AIRFLOW3:
        compat.sync_to_db(bag)  # a DagRun needs the serialized DAG in the DB, as dag.test() does
        orig_run_task = task_command._run_task

        def _run_task(*a, **kw):  # keep the task instance: its state is the outcome
            out = orig_run_task(*a, **kw)
            states.append(kw.get("ti") if "ti" in kw else (a[0] if a else None))
            return out

        task_command._run_task = _run_task
    try:
        task_command.task_test(cli_args, dag=dag)
    except SystemExit as exc:
        return 0 if not exc.code else 1
    except Exception:
        traceback.print_exc()
        print(f"airflow-runtime harness: task {args.dag_id}.{args.task_id} failed", file=sys.stderr)
        return 1
    if compat.AIRFLOW3:
        ti = states[-1] if states else None
        state = getattr(ti, "state", None)
        state = str(getattr(state, "value", state) or "")
        if state not in ("success", "skipped"):
            print(f"airflow-runtime harness: task {args.dag_id}.{args.task_id} ended in state {state or 'unknown'}",
                  file=sys.stderr)
            return 1
    return 0
