"""The `render` verb: one task's templated fields for a logical date, as ``airflow tasks render`` shows them.

The DAG file is loaded as `run` loads it, then Airflow's own ``task_command.task_render(args, dag=dag)`` does
the work on every version (its task instance and template context differ between 2.x, 3.0 and 3.1+, where the
context is the Task SDK's). Around it, the operator's ``_do_render_template_fields`` renders one field at a
time, so that each field's rendered value is told to the engine (``rendered`` events, in pieces that fit an
event line), and a template that fails names its field and its template (a ``render-failed`` event, exit 1)
instead of a traceback. Airflow's own printout is not shown: the events are the output.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pprint

from . import env
from .run import check_map_index, in_run_process, load_task

# An event line must stay well under the engines' line limit (16 KB) after JSON escaping.
PIECE = 2000


class FieldFailed(Exception):
    def __init__(self, field: str, template, cause: BaseException):
        super().__init__(field)
        self.field = field
        self.template = template
        self.cause = cause


def render(args) -> int:
    return in_run_process(args, lambda file, folder: _render(args, file, folder), "rendering")


def _render(args, file: str, folder: str) -> int:
    from . import compat

    bag, dag, task = load_task(file, folder, args.dag_id, args.task_id)
    if compat.is_mapped(task):
        check_map_index(args, task)
    elif args.map_index >= 0:
        raise env.HarnessError(f"task '{args.task_id}' is not mapped: leave out --map-index", "usage")
    if compat.AIRFLOW3:
        with _quiet():
            compat.sync_to_db(bag)  # a task instance needs its DAG's serialized version in the DB

    rendered: dict = {}
    try:
        with _field_by_field(_renderer_class(task), rendered), contextlib.redirect_stdout(io.StringIO()):
            _airflow_render(args, dag)
    except FieldFailed as failed:
        env.emit_event("render-failed", field=failed.field, template=_text(failed.template)[:4000], message=_reason(failed.cause))
        return 1
    except env.HarnessError:
        raise
    except Exception as exc:
        raise env.HarnessError(f"{args.dag_id}.{args.task_id} could not be rendered: {_reason(exc)}") from exc

    renderers = getattr(task, "template_fields_renderers", None) or {}
    for name in task.template_fields:
        value = rendered.get(name)
        text = _text(value)
        pieces = [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]
        for i, piece in enumerate(pieces):
            env.emit_event(
                "rendered",
                field=name,
                text=piece,
                last=i == len(pieces) - 1,
                renderer=renderers.get(name),
                pythonType=type(value).__name__,
            )
    return 0


def _airflow_render(args, dag) -> None:
    from datetime import datetime, timezone

    from airflow.cli import cli_parser
    from airflow.cli.commands import task_command

    # `tasks render` takes a logical date or run id; ours defaults to now, as `run` and `test-dag` do
    date = args.date or datetime.now(timezone.utc).isoformat()
    argv = ["tasks", "render", args.dag_id, args.task_id, date]
    if args.map_index >= 0:
        argv += ["--map-index", str(args.map_index)]
    cli_args = cli_parser.get_parser().parse_args(argv)
    with _quiet():  # Airflow logs a template error with its traceback: ours says it instead
        task_command.task_render(cli_args, dag=dag)


@contextlib.contextmanager
def _quiet():
    """Airflow's own logs off, as its CLI's `tasks render` has them (suppress_logs_and_warning)."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _renderer_class(task):
    """The class whose ``_do_render_template_fields`` renders this task's fields (a mapped task's operator)."""
    klass = getattr(task, "operator_class", None)
    if not isinstance(klass, type):
        klass = type(task)
    for base in klass.__mro__:
        if "_do_render_template_fields" in base.__dict__:
            return base
    raise env.HarnessError(f"{klass.__name__} has no templated fields to render")


@contextlib.contextmanager
def _field_by_field(klass, rendered: dict):
    """Each top-level field rendered on its own: its value kept, its failure named. Nested objects' fields
    (an object with its own template_fields inside a field) belong to the field that holds them."""
    original = klass.__dict__["_do_render_template_fields"]

    def one_at_a_time(self, parent, template_fields, context, jinja_env, seen_oids):
        if parent is not self:
            return original(self, parent, template_fields, context, jinja_env, seen_oids)
        for name in template_fields:
            template = getattr(parent, name, None)
            try:
                original(self, parent, [name], context, jinja_env, seen_oids)
            except Exception as exc:
                raise FieldFailed(name, template, exc) from exc
            rendered[name] = getattr(parent, name, None)

    klass._do_render_template_fields = one_at_a_time
    try:
        yield
    finally:
        klass._do_render_template_fields = original


def _text(value) -> str:
    return value if isinstance(value, str) else pprint.pformat(value, width=100, sort_dicts=False)


def _reason(exc: BaseException) -> str:
    """What went wrong, for a person: the exception, and where in a template a syntax error is."""
    message = f"{type(exc).__name__}: {exc}"
    line = getattr(exc, "lineno", None)
    if line and type(exc).__name__ == "TemplateSyntaxError":
        name = getattr(exc, "filename", None) or getattr(exc, "name", None)
        message += f" (line {line} of the template{f' {name}' if name else ''})"
    return message
