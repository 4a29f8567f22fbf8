"""Creation lines of DAGs and tasks, captured while the DAG file runs (never by searching text).

We wrap three Airflow entry points that every DAG and task passes through:
- ``DAG.__init__``: where the DAG object is created;
- ``DAG.add_task``: every task (classic, ``@task``, mapped, in groups) is attached through it;
- ``OperatorPartial.__attrs_post_init__``: ``Op.partial(...)`` is the constructor call of a mapped task.
From the wrapper we walk up the stack to the first frame that is user code (the DAG file or
anything under the DAGs folder); that frame's current line is the creation line.

Frames of the task's own construction are skipped even when they are user code: an operator class
defined in the user's files calls ``super().__init__`` from its own ``__init__``, and a person looks at
the call that created the task, not inside the class.

Two deliberate exceptions, both "where a person would look":
- a ``@task`` function called once, in the file that defines the DAG: the first line of its definition
  (its first decorator); called several times (``.override(task_id=...)``, loops) or defined in another
  file than the DAG's (a shared helper), each task gets its call site in the DAG's file, so the editor can
  tell them apart and a helper used by 70 DAG files does not send all of them to one line (the definition
  is kept as ``definitionLine`` and ``definitionFile``);
- a ``@dag`` function's DAG line is likewise the first line of the decorated function's definition,
  not the line that calls it (that call is often far below, e.g. ``my_dag()`` at the end of the file).

Edges are recorded too (``DAGNode._set_relatives``: ``>>``, ``set_upstream``, ``chain``): the line
that made each one, so that a cycle can be reported at the edge that closed it.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import types

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
        # id(task) -> (task, file, line, definition location of its @task function or None,
        #              (file, line) of the innermost call in the file that created the task's DAG, or None)
        self.tasks: dict[int, tuple] = {}
        self.partials: dict[int, tuple] = {}
        # (upstream id, downstream id) -> (file, line, order) of the call that made the edge
        self.edges: dict[tuple, tuple] = {}
        self._decorated_calls: dict = {}  # definition location -> tasks made from that @task function
        self.dag_arguments: dict[int, dict] = {}  # id(dag) -> the arguments its constructor was given, by name
        self._undo: list = []

    # -- stack walks -------------------------------------------------------------------------
    def _walk(self, frame, *, task=None, for_dag: bool = False):
        """(file, line) of the first user frame; for a task, also its @task definition (or None)."""
        user = self.user
        definition = None
        while frame is not None:
            code = frame.f_code
            owner = frame.f_locals.get("self") if code.co_argcount and code.co_varnames[0] == "self" else None
            if user.contains(code.co_filename) and not (task is not None and owner is task):
                return code.co_filename, frame.f_lineno, definition
            if task is not None and owner is not None:
                hit = self.partials.get(id(owner))
                if hit is not None and hit[0] is owner:
                    return hit[1], hit[2], definition
                if definition is None and type(owner).__name__ == "_TaskDecorator":
                    definition = _def_location(getattr(owner, "function", None), user)
            if for_dag and code.co_name == "factory" and ("f" in code.co_freevars or "f" in code.co_varnames):
                # the @dag decorator's factory(): its local ``f`` is the user's decorated function
                loc = _def_location(frame.f_locals.get("f"), user)
                if loc:
                    return loc[0], loc[1], None
            frame = frame.f_back
        if definition:
            return definition[0], definition[1], definition
        return None, None, None

    # -- hooks ---------------------------------------------------------------------------------
    def install(self, dag_cls, partial_cls, node_cls=None) -> None:
        lines = self

        orig_init = dag_cls.__init__
        try:
            signature = inspect.signature(orig_init)
        except (TypeError, ValueError):
            signature = None

        @functools.wraps(orig_init)
        def __init__(self, *args, **kwargs):
            orig_init(self, *args, **kwargs)
            if id(self) not in lines.dag_arguments:
                lines.dag_arguments[id(self)] = _arguments(signature, self, args, kwargs)
            caller = sys._getframe(1)
            # Airflow sets fileloc from its caller's frame: that is now us, so put back the real caller
            if getattr(self, "fileloc", None) == _THIS_FILE:
                self.fileloc = caller.f_code.co_filename
            if id(self) not in lines.dags:
                file, line, _ = lines._walk(caller, for_dag=True)
                lines.dags[id(self)] = (self, file, line)

        orig_add = dag_cls.add_task

        @functools.wraps(orig_add)
        def add_task(self, task, *args, **kwargs):
            result = orig_add(self, task, *args, **kwargs)
            if id(task) not in lines.tasks:
                file, line, definition = lines._walk(sys._getframe(1), task=task)
                dag_hit = lines.dags.get(id(self))
                site = _call_in(sys._getframe(1), dag_hit[1]) if definition and dag_hit and dag_hit[0] is self else None
                lines.tasks[id(task)] = (task, file, line, definition, site)
                if definition:
                    lines._decorated_calls[definition] = lines._decorated_calls.get(definition, 0) + 1
            return result

        self._patch(dag_cls, "__init__", __init__)
        self._patch(dag_cls, "add_task", add_task)

        if partial_cls is not None and hasattr(partial_cls, "__attrs_post_init__"):
            orig_post = partial_cls.__attrs_post_init__

            @functools.wraps(orig_post)
            def __attrs_post_init__(self, *args, **kwargs):
                orig_post(self, *args, **kwargs)
                file, line, _ = lines._walk(sys._getframe(1))
                lines.partials[id(self)] = (self, file, line)

            self._patch(partial_cls, "__attrs_post_init__", __attrs_post_init__)

        if node_cls is not None and hasattr(node_cls, "_set_relatives"):
            orig_relatives = node_cls._set_relatives

            @functools.wraps(orig_relatives)
            def _set_relatives(self, task_or_task_list, upstream=False, *args, **kwargs):
                before = {t: set(getattr(t, "downstream_task_ids", ())) for t in _tasks_of(self, task_or_task_list)}
                result = orig_relatives(self, task_or_task_list, upstream, *args, **kwargs)
                try:
                    file, line, _ = lines._walk(sys._getframe(1))
                    for t, old in before.items():
                        for down in set(getattr(t, "downstream_task_ids", ())) - old:
                            lines.edges.setdefault((t.task_id, down), (file, line, len(lines.edges)))
                except Exception:
                    pass  # locating edges is a nicety; never let it break the parse
                return result

            self._patch(node_cls, "_set_relatives", _set_relatives)

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

    def task_location(self, task, dag_file=None):
        """(file, line, definition file, definition line): a @task function called once in the file that
        defines the DAG gives its definition; called several times, or defined in another file (a shared
        helper), each task gives its call site in the DAG's file and keeps the definition apart."""
        hit = self.tasks.get(id(task))
        if not hit or hit[0] is not task:
            return None, None, None, None
        _, file, line, definition, site = hit
        if definition is None:
            return file, line, None, None
        elsewhere = dag_file is not None and not _same_file(definition[0], dag_file)
        several = self._decorated_calls.get(definition, 0) > 1
        call = site or ((file, line) if file is not None else None)
        if (elsewhere or several) and call is not None and call != definition:
            return call[0], call[1], definition[0], definition[1]
        return definition[0], definition[1], None, None

    def edge_location(self, upstream: str, downstream: str):
        return self.edges.get((upstream, downstream))

    def rejected_argument(self, dag, exc: BaseException):
        """The name of the DAG constructor's argument whose value a failure (the serializer's) was working on:
        the deepest frame of the exception's traceback that holds an object reachable from one argument's value
        (the argument's own object, an asset in a schedule list, a watcher's trigger...). None if none does."""
        arguments = self.dag_arguments.get(id(dag)) or {}
        reachable = {name: _reachable_ids(value) for name, value in arguments.items() if not _is_plain(value)}
        if not reachable:
            return None
        for frame in _frames_deepest_first(exc):
            for value in list(frame.f_locals.values()):
                if _is_plain(value) or value is dag:
                    continue
                for name, ids in reachable.items():
                    if id(value) in ids:
                        return name
        return None


def _arguments(signature, dag, args, kwargs) -> dict:
    if signature is not None:
        try:
            bound = signature.bind_partial(dag, *args, **kwargs).arguments
            return {name: value for name, value in bound.items() if value is not dag}
        except TypeError:
            pass
    return dict(kwargs)


_PLAIN = (str, bytes, int, float, bool, type(None))


def _is_plain(value) -> bool:
    """Values that Python shares between unrelated places (interned strings, small ints): never evidence."""
    return isinstance(value, _PLAIN)


def _reachable_ids(value, depth: int = 5, limit: int = 5000) -> set:
    """ids of the objects reachable from `value` through containers and attributes, a few levels deep."""
    seen: set = set()
    todo = [(value, 0)]
    while todo and len(seen) < limit:
        item, level = todo.pop()
        if _is_plain(item) or id(item) in seen:
            continue
        seen.add(id(item))
        if level >= depth or isinstance(item, (type, types.ModuleType, types.FunctionType)):
            continue
        try:
            if isinstance(item, dict):
                children = list(item.values())
            elif isinstance(item, (list, tuple, set, frozenset)):
                children = list(item)
            else:
                children = list(vars(item).values()) if hasattr(item, "__dict__") else []
                children += [getattr(item, a.name, None) for a in getattr(type(item), "__attrs_attrs__", ())]
        except Exception:
            continue  # an object that will not show its parts: it is still itself
        todo.extend((child, level + 1) for child in children)
    return seen


def _frames_deepest_first(exc: BaseException | None) -> list:
    """The frames of an exception's traceback and of the exceptions it was raised from, deepest first (the
    cause ran deeper than the wrapper that re-raised it)."""
    chain: list = []
    while exc is not None and all(exc is not seen for seen in chain):
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    frames: list = []
    for item in reversed(chain):
        own = []
        tb = item.__traceback__
        while tb is not None:
            own.append(tb.tb_frame)
            tb = tb.tb_next
        frames.extend(reversed(own))
    return frames


@functools.lru_cache(maxsize=4096)
def _real(path: str) -> str:
    return os.path.realpath(path)


def _same_file(a: str, b: str) -> bool:
    return a == b or _real(a) == _real(b)


def _call_in(frame, file):
    """(file, line) of the innermost frame of this stack that runs `file`, or None."""
    if not file:
        return None
    while frame is not None:
        if _same_file(frame.f_code.co_filename, file):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def _tasks_of(node, others) -> list:
    """The tasks whose downstream sets an edge call may change: the node and the other side. A task
    group's edges are made by calls on its tasks, which are recorded on their own."""
    out = []
    for item in [node, *(others if isinstance(others, (list, tuple, set)) else [others])]:
        item = item if hasattr(item, "task_id") else getattr(item, "operator", None)  # XComArg -> its task
        if item is not None and hasattr(item, "task_id") and hasattr(item, "downstream_task_ids"):
            out.append(item)
    return out
