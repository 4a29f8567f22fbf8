"""Pre-import for `serve`: the installed modules the DAG files will import, imported once in the server.

A fresh fork per file keeps one file's imports, globals and monkey-patches from the next, but every child
then imports its providers and libraries again (300-550 ms a file on real projects). Airflow's DAG processor
has the same cost and `[dag_processor] parsing_pre_import_modules` for it. We do the same for more modules:

- **Which modules.** The imports at a file's top level, found from its syntax tree without running it (as
  Airflow's pre-import does), and the modules earlier children really imported (`learn`).
- **Installed only.** A module is imported in the server only if every module its import loads lives under the
  interpreter's own library folders (the standard library, site-packages), and the name the child would resolve
  (with the workspace on sys.path) is that same file. A DAG file or helper of the workspace is never imported
  here: each child reads it fresh. The server imports with the workspace taken off sys.path, so an installed
  package cannot reach a workspace module either.
- **Tried in a probe first.** Each new batch is imported in a throwaway fork with a deadline before the server
  imports it. A module that fails, warns, starts a thread or a process, changes the environment, the working
  folder, sys.path, the import hooks or signal handlers, or does not finish in time is left to the child: its
  import error, warning or side effect stays the file's own, at its line.
- **Off** with `serve --no-pre-import` (the engines pass it for the setting and the CLI flag).
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import json
import os
import select
import signal
import site
import sys
import sysconfig
import time
import warnings
from types import ModuleType

from . import isolate

# Set by `serve` when it pre-imports: each parse child then reports the installed modules it imported.
LEARN = False
# What a probe may take for one batch before its module in progress is left to the child (for good). The
# request waits for it and for the server's own import of the same modules: the engines allow for both
# (PRE_IMPORT_ALLOWANCE_MS in warm.ts) on top of the file's own deadline, which starts in the child.
PROBE_SECONDS = 20.0
# A child reports at most this many learned modules (a file importing half of PyPI still costs one line).
MAX_LEARNED = 2000
_SIGNALS = tuple(
    s for s in ("SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGCHLD", "SIGUSR1", "SIGUSR2", "SIGPIPE") if hasattr(signal, s)
)


def _roots() -> tuple[str, ...]:
    found = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            found.add(paths[key])
    try:
        found.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site module
        pass
    if site.ENABLE_USER_SITE:
        found.add(site.getusersitepackages())
    return tuple(sorted({os.path.realpath(p).rstrip(os.sep) + os.sep for p in found}))


ROOTS = _roots()


def _installed_path(path: str | None) -> bool:
    if not path:
        return False
    real = os.path.realpath(path).rstrip(os.sep) + os.sep
    return any(real.startswith(root) for root in ROOTS)


def installed(module: ModuleType) -> bool:
    """Built into the interpreter, or loaded from its own library folders (never the workspace's)."""
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) if spec is not None else getattr(module, "__file__", None)
    if origin in ("built-in", "frozen"):
        return True
    if origin and origin != "namespace":
        return _installed_path(origin)
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    return bool(locations) and all(_installed_path(p) for p in locations)


def from_elsewhere(module: ModuleType) -> bool:
    """Loaded from a file or folder outside the installed packages (a module made in memory, as Cython's
    shared `_cython_*` is, was loaded from nowhere and is not)."""
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) if spec is not None else getattr(module, "__file__", None)
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    if not origin and not locations:
        return False
    return not installed(module)


def imported_since(before: set) -> list:
    """Installed modules this process imported that `before` (its sys.modules when the parse began) lacked."""
    names = []
    for name, module in list(sys.modules.items()):
        # under its own name only: `requests.packages.idna` is `idna` again, filed under another name
        if (
            name not in before
            and module is not None
            and getattr(module, "__name__", None) == name
            and _plausible(name)
            and installed(module)
        ):
            names.append(name)
            if len(names) >= MAX_LEARNED:
                break
    return names


def _plausible(name: str) -> bool:
    return (
        bool(name)
        and all(part.isidentifier() for part in name.split("."))
        and not name.startswith(("airflow_runtime_harness", "__main__"))
    )


def static_imports(file: str) -> list:
    """(name, optional) of the imports at the file's top level (also inside top-level if/try/with), from its
    syntax tree. `from a import b` gives `a`, and `a.b` as optional (b may be a name, not a module)."""
    try:
        tree = ast.parse(_read_source(file))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: list = []

    def visit(body) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((alias.name, False) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.module, False))
                found.extend((f"{node.module}.{alias.name}", True) for alias in node.names if alias.name != "*")
            elif isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, None) or [])
                for handler in getattr(node, "handlers", None) or []:
                    visit(handler.body)

    visit(tree.body)
    return [(name, optional) for name, optional in found if _plausible(name)]


# The server reads a DAG file only to find its imports: never more than this, never anything but a regular file.
MAX_SOURCE_BYTES = 4 * 1024 * 1024


def _read_source(file: str) -> bytes:
    """The file's bytes; a FIFO, a device or a huge file is not read (the server must never block on a DAG file)."""
    import stat

    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SOURCE_BYTES:
            raise ValueError("not a regular file of a readable size")
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(MAX_SOURCE_BYTES + 1)
    finally:
        os.close(fd)


class PreImporter:
    """The server's side: what was tried, what the server holds, and the next batch to try."""

    def __init__(self) -> None:
        self.done: set = set()  # imported in the server, or found absent: never tried again
        self.refused: dict = {}  # name -> why it is left to the children
        self.learned: list = []  # (name, optional) children imported, not yet tried
        self.imported = 0  # modules the server holds because of us (for the bench and the log)
        self.seconds = 0.0
        self.broken: str | None = None  # the server misbehaved after all: no more pre-imports

    def learn(self, names) -> None:
        for name in list(names or ())[:MAX_LEARNED]:  # what a child says is only a hint: the probe decides
            if not isinstance(name, str) or not _plausible(name):
                continue
            if name not in self.done and name not in self.refused and name not in sys.modules:
                self.learned.append((name, False))

    def prepare(self, file: str, folder: str) -> bool:
        """Before `file`'s child is forked: imports what it and earlier children need that the server lacks.
        Returns True when the server's modules changed (a child forked before is stale)."""
        if self.broken:
            return False
        wanted = self.learned + static_imports(file)
        self.learned = []
        batch, seen = [], set()
        for name, optional in wanted:
            if name in seen or name in sys.modules or name in self.done or name in self.refused:
                continue
            seen.add(name)
            batch.append((name, optional))
        if not batch:
            return False
        started = time.monotonic()
        threads = _threads()
        verdicts = probe(batch, _child_path(folder))
        before = len(sys.modules)
        for name, optional in batch:
            verdict = verdicts.get(name)
            if verdict is None:
                self.learned.append((name, optional))  # after a refused one the probe stops: tried again next time
            elif verdict == "absent":
                self.done.add(name)
            elif verdict != "ok":
                self.refused[name] = verdict
            elif name not in sys.modules:
                why = _import_in_server(name)
                if why:
                    self.refused[name] = why
                else:
                    self.done.add(name)
        self.imported += len(sys.modules) - before
        self.seconds += time.monotonic() - started
        refused = [f"{name} ({self.refused[name]})" for name, _ in batch if name in self.refused]
        print(
            f"airflow-runtime harness: pre-import: {len(sys.modules) - before} modules in "
            f"{time.monotonic() - started:.2f}s" + (f"; left to the DAG files: {', '.join(refused)}" if refused else ""),
            file=sys.stderr,
        )
        if _threads() > threads:
            # a module that started a thread here and not in the probe: we cannot take it back, so stop adding
            self.broken = "a pre-imported module started a thread in the server"
        return len(sys.modules) != before


def _child_path(folder: str) -> list:
    """sys.path as a child sees it when its DAG file runs (compat.use_dags_folder appends the DAGs folder)."""
    folder = os.path.abspath(folder)
    return list(sys.path) + ([folder] if folder not in sys.path else [])


def _installed_entries(path: list) -> list:
    return [entry for entry in path if entry and _installed_path(entry)]


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _has_children() -> bool:
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", "rb") as fh:
                if fh.read().strip():
                    return True
    except OSError:
        pass
    return False


def _import_in_server(name: str) -> str | None:
    """Imports `name` with only the installed part of sys.path; on failure leaves sys.modules as it was."""
    saved = list(sys.path)
    modules = set(sys.modules)
    try:
        sys.path[:] = _installed_entries(saved)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(name)
        return None
    except BaseException as exc:  # noqa: BLE001 - whatever it raised, the child gets to raise it
        for added in set(sys.modules) - modules:
            sys.modules.pop(added, None)
        return f"failed in the server: {type(exc).__name__}: {exc}"
    finally:
        sys.path[:] = saved


def probe(batch: list, child_path: list) -> dict:
    """Imports `batch` in a throwaway fork, in order; returns name -> "ok", "absent" or why it is refused."""
    read_fd, write_fd = os.pipe()
    set_death_signal = isolate._death_signal_setter()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            set_death_signal()  # a server killed while it waits for us leaves no probe behind
            if os.getppid() != parent:
                os._exit(0)
            os.close(read_fd)
            os.setsid()
            for child in list(isolate.Child._open.values()):  # the pipes of the server's parse children
                for fd in (child.out_r, child.res_r, child.req_w, child.pidfd):
                    isolate._close_quietly(fd)
            for fd in isolate.parent_only_fds:  # serve's reply stream
                isolate._close_quietly(fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            _probe_child(batch, child_path, write_fd)
        except BaseException:  # noqa: BLE001
            code = 2
        finally:
            os._exit(code)
    os.close(write_fd)
    verdicts: dict = {}
    last = None
    data = b""
    deadline = time.monotonic() + PROBE_SECONDS
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                break
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
            *lines, data = data.split(b"\n")
            for line in lines:
                item = json.loads(line)
                verdicts[item["name"]] = last = item["verdict"]
    finally:
        os.close(read_fd)
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _, status = os.waitpid(pid, 0)
    stuck = next((name for name, _ in batch if name not in verdicts), None)
    if stuck is not None and time.monotonic() >= deadline:
        verdicts[stuck] = f"did not finish importing within {PROBE_SECONDS:g}s"
    elif stuck is not None and (last is None or last in ("ok", "absent") or last.startswith("failed")):
        # not stopped by us after a refusal: the import of `stuck` ended the probe (a crash in native code, os._exit)
        verdicts[stuck] = f"ended the process while it was imported (wait status {status})"
    return verdicts


def _probe_child(batch: list, child_path: list, out: int) -> None:
    installed_path = _installed_entries(sys.path)
    for name, optional in batch:
        modules = set(sys.modules)
        verdict = _try_one(name, optional, child_path, installed_path)
        os.write(out, (json.dumps({"name": name, "verdict": verdict}) + "\n").encode())
        if verdict.startswith("failed"):
            for added in set(sys.modules) - modules:  # as the server would after a failure
                sys.modules.pop(added, None)
        elif verdict not in ("ok", "absent"):
            return  # it did something to this process: the rest waits for the next probe


def _try_one(name: str, optional: bool, child_path: list, installed_path: list) -> str:
    if name in sys.modules:
        return "ok"
    top = name.split(".")[0]
    if top not in sys.modules and top not in sys.builtin_module_names:
        spec = importlib.machinery.PathFinder.find_spec(top, child_path)
        if spec is None:
            return "absent"
        if not installed(_spec_module(spec)):
            return "absent"  # the workspace's: never here
    state = _state()
    modules = set(sys.modules)
    saved = list(sys.path)
    caught: list = []
    try:
        sys.path[:] = installed_path
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if optional:
                parent = importlib.import_module(name.rpartition(".")[0])
                if not hasattr(parent, "__path__") or importlib.util.find_spec(name) is None:
                    return "absent"  # `from a import b`: b is a name in a, not a module
            importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001
        return f"failed: {type(exc).__name__}: {exc}"
    finally:
        sys.path[:] = saved
    if caught:
        return f"warned at import: {caught[0].category.__name__}: {caught[0].message}"
    changed = _changed(state, _state())
    if changed:
        return changed
    for added in set(sys.modules) - modules:
        module = sys.modules.get(added)
        if module is None:
            continue
        if from_elsewhere(module):
            return f"loaded {added} from outside the installed packages"
        module_spec = getattr(module, "__spec__", None)
        if "." not in added and module_spec is not None and module_spec.origin not in ("built-in", "frozen"):
            spec = importlib.machinery.PathFinder.find_spec(added, child_path)
            if spec is None or spec.origin != module_spec.origin:
                return f"{added} is another module on the DAG files' sys.path"
    return "ok"


def _spec_module(spec) -> ModuleType:
    module = ModuleType(spec.name)
    module.__spec__ = spec
    return module


def _state() -> tuple:
    return (
        _threads(),
        _has_children(),
        dict(os.environ),
        os.getcwd(),
        list(sys.meta_path),
        list(sys.path_hooks),
        tuple(signal.getsignal(getattr(signal, s)) for s in _SIGNALS),
    )


def _changed(before: tuple, after: tuple) -> str | None:
    what = (
        "started a thread",
        "started a process",
        "changed the environment",
        "changed the working folder",
        "added an import hook",
        "added a path hook",
        "changed a signal handler",
    )
    for label, old, new in zip(what, before, after):
        if label == "started a thread" and new > old or label == "started a process" and new and not old:
            return label
        if label not in ("started a thread", "started a process") and old != new:
            return label
    return None
