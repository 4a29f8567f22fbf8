"""The `run` verb: one task, the way `airflow tasks test` does, on Airflow 2 and 3.

We parse the file with the same DagBag as `parse`, check the ids (exit 2 with what exists), then
hand the DAG object to Airflow's own CLI function `task_command.task_test(args, dag=dag)`:
- Airflow 2: `ti.run(test_mode=True)`; a failing task raises, which is our exit 1.
- Airflow 3 (no `tasks test -S`): the same function runs the task in-process through the
  Task SDK (`run_task_in_process`, what `dag.test()` uses) against the migrated SQLite DB; it
  does not raise on failure, so we read the task instance's final state.
Connections and Variables come from the environment (AIRFLOW_CONN_*, AIRFLOW_VAR_*) as usual; their secrets
are registered with Airflow's secrets masker first (masking.py).

A mapped task cannot run alone: what it expands over is usually an upstream task's output, which a
private metadata DB does not have. It runs in ``dag.test()``, where every task but it and its upstream
tasks, and every map index but the chosen one, is skipped (see _run_mapped).
"""

from __future__ import annotations

import os
import sys
import traceback

from . import env
from .import_errors import import_error_from_exception
from .paths import UserFiles
from .reap import become_subreaper, kill_descendants


def run(args) -> int:
    from . import debug

    def task(file: str, folder: str) -> int:
        if debug.asked():  # before the DAG file is parsed: its top-level code can be stepped through too
            debug.wait_for_client()
        try:
            return _run(args, file, folder)
        finally:
            if debug.asked():
                debug.program_ended()

    return in_run_process(args, task, "the task")


def in_run_process(args, work, what: str) -> int:
    """What `run` and `test-dag` share: a subreaper before anything starts, log lines as they happen, the DAG
    file and folder checked, Airflow's environment prepared, and what the work left running stopped after."""
    subreaper = become_subreaper()  # before the task starts anything
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # a TextIOWrapper: log lines as they happen
        except Exception:
            pass
    file = os.path.abspath(args.file)
    if not os.path.isfile(file):
        raise env.HarnessError(f"no such file: {file}")
    folder = os.path.abspath(args.dags_folder or os.path.dirname(file))
    env.prepare(folder)
    from .masking import mask_runtime_secrets

    mask_runtime_secrets()  # Airflow's own log lines mask them, as in production
    try:
        return work(file, folder)
    except DagFileFailed as failed:
        print(f"airflow-runtime harness: {failed}", file=sys.stderr)
        return 1
    finally:
        left = kill_descendants()
        if left:
            print(
                f"airflow-runtime harness: stopped {left} process(es) {what} left behind"
                + ("" if subreaper else " (not a subreaper: double-forked ones may survive)"),
                file=sys.stderr,
            )


class DagFileFailed(Exception):
    """The DAG file did not load (an import error): the user's DAG failed, exit 1, not a usage error."""


def load_dag(file: str, folder: str, dag_id: str):
    """(bag, the DAG `dag_id`) of the file, parsed as `parse` does. A file with an import error is the user's
    failure (DagFileFailed, said once at its line); a DAG id the file does not have is a usage error that lists
    what it has."""
    from . import compat
    from .file_hooks import FileHooks

    compat.use_dags_folder(folder)
    hooks = FileHooks(UserFiles(file, folder))  # keeps the exception with its whole traceback, as `parse` does
    hooks.install()
    try:
        bag = compat.load_file(file, folder)
    finally:
        hooks.uninstall()
    dag = bag.dags.get(dag_id)
    if dag is None and (hooks.exception is not None or bag.import_errors):
        _say_import_error(file, folder, bag, hooks.exception)
        raise DagFileFailed(f"DAG '{dag_id}' could not be loaded: its file has an import error")
    if dag is None:
        found = ", ".join(sorted(bag.dags)) or "none"
        raise env.HarnessError(f"DAG '{dag_id}' not found in {file}. DAGs in this file: {found}.")
    return bag, dag


def _say_import_error(file: str, folder: str, bag, exception) -> None:
    """`path:line:col: error: message`, as `parse` prints it (the engine maps the path to the host's), on stdout
    after Airflow's own log, which has printed the traceback: it is not repeated."""
    user = UserFiles(file, folder)
    if exception is not None:
        errors = [import_error_from_exception(exception, user, file)]
    else:  # a DAG-level error (a cycle, a policy): Airflow's text, at the file
        errors = [
            {"file": user.display(file), "line": 1, "column": 1, "message": (text.strip().splitlines() or [""])[-1]}
            for text in bag.import_errors.values()
        ]
    for error in errors:
        message = " ".join(error["message"].split("\n")).strip()
        print(f"{error['file']}:{error['line']}:{error['column']}: error: {message}", flush=True)
        env.emit_event("import-error", file=error["file"], line=error["line"], column=error["column"], message=message)


def load_task(file: str, folder: str, dag_id: str, task_id: str):
    """(bag, DAG, task) as load_dag finds them; a usage error that lists the DAG's tasks when it has no such task."""
    bag, dag = load_dag(file, folder, dag_id)
    if task_id not in dag.task_dict:
        raise env.HarnessError(f"task '{task_id}' not found in DAG '{dag_id}'. Tasks: {', '.join(sorted(dag.task_dict))}.")
    return bag, dag, dag.task_dict[task_id]


def _run(args, file: str, folder: str) -> int:
    from . import compat

    bag, dag, task = load_task(file, folder, args.dag_id, args.task_id)
    if compat.is_mapped(task):
        return _run_mapped(args, dag, task)

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
            print(
                f"airflow-runtime harness: task {args.dag_id}.{args.task_id} ended in state {state or 'unknown'}", file=sys.stderr
            )
            return 1
    return 0


def check_map_index(args, task) -> None:
    """A mapped task needs a map index, within its count where the file alone tells it (a usage error)."""
    from . import compat

    count = compat.parse_time_map_count(task)
    if args.map_index is None or args.map_index < 0:
        known = f"map indexes 0 to {count - 1}" if count else "its map indexes are known once its upstream tasks have run"
        raise env.HarnessError(f"task '{args.task_id}' is mapped ({known}): choose one with --map-index N", "mapped-needs-index")
    if count is not None and args.map_index >= count:
        raise env.HarnessError(
            f"task '{args.task_id}' has map indexes 0 to {count - 1}; there is no map index {args.map_index}",
            "mapped-needs-index",
        )


def _run_mapped(args, dag, task) -> int:
    """One map index of a mapped task, after the upstream tasks it needs, in one DAG test run."""
    from . import compat

    check_map_index(args, task)
    # the subset's own copies of mapped operators lose their expand input on Airflow 3: its ids only
    needed = set(dag.partial_subset([args.task_id], include_upstream=True, include_downstream=False).task_dict)
    upstream = sorted(needed - {args.task_id})
    if upstream:
        print(
            f"airflow-runtime harness: running {', '.join(upstream)} first: '{args.task_id}' is mapped over their output",
            file=sys.stderr,
        )

    module, name = compat.dag_test_task_runner()
    original = getattr(module, name)
    seen = []

    def chosen_only(*a, **kw):
        ti = kw.get("ti")
        if ti is not None and ti.task_id == args.task_id:
            seen.append(ti.map_index)
        if ti is not None and (ti.task_id not in needed or (ti.task_id == args.task_id and ti.map_index != args.map_index)):
            from airflow.utils.state import TaskInstanceState

            ti.set_state(TaskInstanceState.SKIPPED)
            return None
        return original(*a, **kw)

    setattr(module, name, chosen_only)
    try:
        run = compat.run_dag_test(dag, logical_date(args.date))
    finally:
        setattr(module, name, original)
    states = {(ti.task_id, ti.map_index): state_of(ti) for ti in run.get_task_instances()}
    failed = [task_id for (task_id, _), state in states.items() if task_id in upstream and state not in ("success", "skipped")]
    if args.map_index not in seen and not failed:
        raise env.HarnessError(
            f"task '{args.task_id}' expanded to {len(seen)} task instance(s) (map indexes 0 to {len(seen) - 1}); "
            f"there is no map index {args.map_index}",
            "mapped-needs-index",
        )
    state = states.get((args.task_id, args.map_index), "")
    if state in ("success", "skipped"):
        return 0
    why = f"upstream task(s) {', '.join(sorted(failed))} failed" if failed else f"it ended in state {state or 'unknown'}"
    print(f"airflow-runtime harness: task {args.dag_id}.{args.task_id}[{args.map_index}] failed: {why}", file=sys.stderr)
    return 1


def state_of(ti) -> str:
    state = getattr(ti, "state", None)
    return str(getattr(state, "value", state) or "")


def logical_date(date):
    if not date:
        return None
    from datetime import datetime, timezone

    return datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=timezone.utc)
