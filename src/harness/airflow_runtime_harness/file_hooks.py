"""Hooks on the loader that executes the DAG file, for `parse` and for the verbs that load one DAG (run, render,
test-dag)."""

from __future__ import annotations

import functools
import importlib.machinery
import os
import sys
import warnings

from .import_errors import user_frame_of_stack
from .paths import UserFiles
from .result import ParseWarning

MAX_WARNINGS = 200


class FileHooks:
    """Wraps the loader that executes the DAG file: we keep its exception (full traceback,
    Airflow keeps 2 frames) and every warning it raises, located at the user's line."""

    def __init__(self, user: UserFiles, on_start=None):
        self.user = user
        self.on_start = on_start
        self.exception: BaseException | None = None
        self.warnings: list[ParseWarning] = []
        self._seen: set = set()
        self._raw: list = []

    def _on_warning(self, message, category, filename, lineno, file=None, line=None):
        internal = not self.user.contains(filename)
        origin = None
        if internal:
            # raised inside Airflow or a library: attribute it to the user line that triggered it
            loc = user_frame_of_stack(sys._getframe(1), self.user)
            if loc:
                origin = f"{filename}:{lineno}"
                filename, lineno = loc[0], loc[1]
        key = (filename, lineno, category, str(message))
        if key in self._seen or len(self.warnings) >= MAX_WARNINGS:
            return
        self._seen.add(key)
        item: ParseWarning = {
            "file": self.user.display(filename),
            "line": lineno,
            "category": category.__name__,
            "message": str(message),
        }
        if internal:
            # not raised by the user's code: Airflow/library noise, labelled so engines can filter it
            item["internal"] = True
            if origin:
                item["origin"] = origin
        self.warnings.append(item)
        self._raw.append((message, category, filename, lineno))

    def install(self):
        # Only the DAG file's own loader gets our exec_module (an attribute of that instance, set when it is made):
        # every other module loads with no frame of ours on the stack, so a warning raised with a stacklevel at
        # its import never lands on a harness line, and tracebacks go through our code once, not per import.
        loader_cls = importlib.machinery.SourceFileLoader
        orig_init = loader_cls.__init__
        orig_exec = loader_cls.exec_module
        hooks = self
        dag_name = os.path.basename(hooks.user.dag_file)

        def exec_dag_file(loader, module):
            hooks._raw = []
            if hooks.on_start is not None:
                start, hooks.on_start = hooks.on_start, None
                # the DAG file's own code runs now: from here on the clock is the file's, as Airflow's
                # dagbag_import_timeout covers the file's import (not the DagBag's set-up before it, which a
                # loaded machine can make take seconds)
                start()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("always")
                    warnings.showwarning = hooks._on_warning
                    orig_exec(loader, module)
            except BaseException as exc:
                hooks.exception = exc
                raise
            finally:
                # hand them on to Airflow's own warning capture, as if we were not here
                for message, category, filename, lineno in hooks._raw:
                    try:
                        warnings.warn_explicit(message, category, filename, lineno)
                    except Exception:
                        pass

        def __init__(loader, *args, **kwargs):
            orig_init(loader, *args, **kwargs)
            path = getattr(loader, "path", None) or ""
            if os.path.basename(path) == dag_name and os.path.realpath(path) == hooks.user.dag_file:
                loader.exec_module = functools.partial(exec_dag_file, loader)

        self._undo = (loader_cls, loader_cls.__dict__.get("__init__"))
        loader_cls.__init__ = __init__  # pyright: ignore[reportAttributeAccessIssue]

    def uninstall(self):
        loader_cls, old = self._undo
        if old is None:
            del loader_cls.__init__
        else:
            loader_cls.__init__ = old
