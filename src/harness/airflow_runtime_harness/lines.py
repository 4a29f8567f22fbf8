"""Creation lines of DAGs and tasks, captured while the DAG file runs (never by searching text).

We wrap three Airflow entry points that every DAG and task passes through:
- ``DAG.__init__``: where the DAG object is created;
- ``DAG.add_task``: every task (classic, ``@task``, mapped, in groups) is attached through it;
- ``OperatorPartial.__attrs_post_init__``: ``Op.partial(...)`` is the constructor call of a mapped task.
From the wrapper we walk up the stack to the first frame that is user code (the DAG file or
anything under the DAGs folder); that frame's current line is the creation line.

Two deliberate exceptions, both "where a person would look":
- a ``@task`` function's line is the first line of its definition (its first decorator);
- a ``@dag`` function's DAG line is likewise the first line of the decorated function's definition,
  not the line that calls it (that call is often far below, e.g. ``my_dag()`` at the end of the file).
"""
from __future__ import annotations

import functools
import inspect
import sys

from .paths import UserFiles

_THIS_FILE = __file__


def _def_location(fn, user: UserFiles):
    """(file, first line incl. decorators) of a user function, or None if it is not user code."""
    try:
        fn = inspect.unwrap(fn)
        code = fn.__code__
    except Exception:
        return None
    if not user.contains(code.co_filename):
        return None
    return code.co_filename, code.co_firstlineno


class CreationLines:
    def __init__(self, user: UserFiles):
        self.user = user
        self.dags: dict[int, tuple] = {}  # id(dag) -> (dag, file, line); the object keeps the id unique
        self.tasks: dict[int, tuple] = {}
        self.partials: dict[int, tuple] = {}
        self._undo: list = []

    # -- stack walks -------------------------------------------------------------------------
    def _walk(self, frame, *, for_task: bool = False, for_dag: bool = False):
        user = self.user
        while frame is not None:
            code = frame.f_code
            if user.contains(code.co_filename):
                return code.co_filename, frame.f_lineno
            if for_task and code.co_argcount and code.co_varnames[0] == "self":
                owner = frame.f_locals.get("self")
                if owner is not None:
                    hit = self.partials.get(id(owner))
                    if hit is not None and hit[0] is owner:
                        return hit[1], hit[2]
                    if type(owner).__name__ == "_TaskDecorator":
                        loc = _def_location(getattr(owner, "function", None), user)
                        if loc:
                            return loc
            if for_dag and code.co_name == "factory" and ("f" in code.co_freevars or "f" in code.co_varnames):
                # the @dag decorator's factory(): its local ``f`` is the user's decorated function
                loc = _def_location(frame.f_locals.get("f"), user)
                if loc:
                    return loc
            frame = frame.f_back
        return None, None

    # -- hooks ---------------------------------------------------------------------------------
    def install(self, dag_cls, partial_cls) -> None:
        lines = self

        orig_init = dag_cls.__init__

        @functools.wraps(orig_init)
        def __init__(self, *args, **kwargs):
            orig_init(self, *args, **kwargs)
            caller = sys._getframe(1)
            # Airflow sets fileloc from its caller's frame: that is now us, so put back the real caller
            if getattr(self, "fileloc", None) == _THIS_FILE:
                self.fileloc = caller.f_code.co_filename
            if id(self) not in lines.dags:
                file, line = lines._walk(caller, for_dag=True)
                lines.dags[id(self)] = (self, file, line)

        orig_add = dag_cls.add_task

        @functools.wraps(orig_add)
        def add_task(self, task, *args, **kwargs):
            result = orig_add(self, task, *args, **kwargs)
            if id(task) not in lines.tasks:
                file, line = lines._walk(sys._getframe(1), for_task=True)
                lines.tasks[id(task)] = (task, file, line)
            return result

        self._patch(dag_cls, "__init__", __init__)
        self._patch(dag_cls, "add_task", add_task)

        if partial_cls is not None and hasattr(partial_cls, "__attrs_post_init__"):
            orig_post = partial_cls.__attrs_post_init__

            @functools.wraps(orig_post)
            def __attrs_post_init__(self, *args, **kwargs):
                orig_post(self, *args, **kwargs)
                file, line = lines._walk(sys._getframe(1))
                lines.partials[id(self)] = (self, file, line)

            self._patch(partial_cls, "__attrs_post_init__", __attrs_post_init__)

    def _patch(self, cls, name, value) -> None:
        self._undo.append((cls, name, cls.__dict__.get(name)))
        setattr(cls, name, value)

    def uninstall(self) -> None:
        for cls, name, old in reversed(self._undo):
            if old is None:
                delattr(cls, name)
            else:
                setattr(cls, name, old)
        self._undo.clear()

    # -- lookups -------------------------------------------------------------------------------
    def dag_location(self, dag):
        hit = self.dags.get(id(dag))
        return (hit[1], hit[2]) if hit and hit[0] is dag else (None, None)

    def task_location(self, task):
        hit = self.tasks.get(id(task))
        return (hit[1], hit[2]) if hit and hit[0] is task else (None, None)
