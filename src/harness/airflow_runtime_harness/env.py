"""The environment Airflow is imported into: private home, SQLite metadata DB, cache.

Everything here runs BEFORE Airflow is imported, because Airflow reads its config at import.
- AIRFLOW_HOME: kept when set (in an image it is the runtime's own); otherwise a private one
  under our cache, so the user's ~/airflow is never touched.
- Metadata DB: always a private SQLite copy. A migrated template DB is built once per runtime
  (`airflow db migrate`, never `db init`) under the cache, keyed by Airflow version, Python and
  interpreter prefix, behind a file lock so parallel harnesses migrate once; each harness process
  then copies it (a few MB, milliseconds), so nothing a DAG or task writes leaks into the next.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile


class HarnessError(Exception):
    """A usage or infrastructure problem (exit code 2), not the user's DAG. `code` is for the engine
    (it arrives as an event, see emit_event), the message for people."""

    def __init__(self, message: str, code: str = "harness-failed"):
        super().__init__(message)
        self.code = code


# A line on stderr that the engines read as an event, not as output: `<marker> {json}`.
EVENT_MARKER = "@@airflow-runtime-event"


def emit_event(kind: str, **fields) -> None:
    """Tells the engine something (the file started running; a failure with its code) on stderr,
    on a line of its own, whatever else is written there. Each kind and its fields: media/harness-event.schema.json."""
    import json

    line = f"\n{EVENT_MARKER} {json.dumps({'event': kind, **fields})}\n"
    try:
        os.write(2, line.encode())
    except OSError:
        pass


def _owner_pid() -> str:
    pid = os.environ.get("AIRFLOW_RUNTIME_OWNER", "").rsplit(":", 1)[-1]
    return pid if pid.isdigit() else str(os.getpid())


def own_temp_dir(kind: str) -> str:
    """A temp folder named as the engines name theirs, `airflow-runtime-<kind>-<owner pid>-*`, so that
    `airflow-runtime cleanup` can tell whose it is when nothing removed it (a harness killed with SIGKILL);
    removed when this process exits."""
    folder = tempfile.mkdtemp(prefix=f"airflow-runtime-{kind}-{_owner_pid()}-")
    remove_at_exit(folder)
    return folder


def remove_at_exit(folder: str) -> None:
    """Removed when this process exits, not when a child forked from it does (a DAG file's fork that calls
    sys.exit runs our atexit handlers too); our own forked children leave by os._exit."""
    me = os.getpid()
    atexit.register(lambda: os.getpid() == me and shutil.rmtree(folder, True))


def engine_temp_dir(folder: str | None = None) -> str | None:
    """`folder` (default: TMPDIR) if the engine made it for this process (a temp folder named for our owner): ours
    to remove when we end, since an owner killed with SIGKILL cannot."""
    folder = os.environ.get("TMPDIR", "") if folder is None else folder
    name = os.path.basename(folder.rstrip(os.sep))
    return folder if name.startswith("airflow-runtime-") and f"-{_owner_pid()}-" in name else None


def end_with_owner(folders: tuple = ()) -> None:
    """Our stdin is a pipe (or an attached container stdin) that our owner never writes to: its end
    means the owner is gone (killed, even with SIGKILL), and so must be everything we started, and the
    engine's temp folders we were given (TMPDIR, `folders`): our owner cannot remove them now."""
    import threading

    gone = threading.Event()
    ours = [f for f in (engine_temp_dir(), *(engine_temp_dir(f) for f in folders)) if f]

    def remove_ours() -> None:
        for folder in ours:
            shutil.rmtree(folder, True)

    # our main thread may end us before the watcher is done (its DAG file's child killed, it writes a result
    # and exits, recreating a folder on the way): it removes them too then
    atexit.register(lambda: gone.is_set() and remove_ours())

    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        from .reap import kill_descendants

        gone.set()
        remove_ours()
        kill_descendants(grace=0.2)
        remove_ours()  # and what a process wrote there meanwhile
        os._exit(2)

    threading.Thread(target=watch, daemon=True, name="harness-owner-watch").start()


def airflow_version() -> str:
    """Installed Airflow version without importing Airflow (that import is what costs seconds)."""
    from importlib import metadata

    for dist in ("apache-airflow", "apache-airflow-core"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    raise HarnessError("Airflow is not installed in this interpreter: " + sys.executable, "no-airflow")


def cache_root() -> str:
    root = os.environ.get("AIRFLOW_RUNTIME_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "airflow-runtime-harness")
    return root


def runtime_key(version: str) -> str:
    prefix = hashlib.sha256(os.path.realpath(sys.prefix).encode()).hexdigest()[:8]
    return f"airflow-{version}-py{sys.version_info[0]}.{sys.version_info[1]}-{prefix}"


def _template_db(version: str, home: str) -> str:
    folder = os.path.join(cache_root(), runtime_key(version))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "airflow.db")
    if os.path.exists(path):
        return path
    with open(os.path.join(folder, "migrate.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel harnesses: one migrates, the others wait
        if os.path.exists(path):
            return path
        tmp = path + f".{os.getpid()}.tmp"
        _migrate(tmp, home, os.path.join(folder, "migrate.log"))
        os.replace(tmp, path)
    return path


def _migrate(db: str, home: str, log_path: str) -> None:
    """`airflow db migrate` into a new SQLite file `db` (never `db init`)."""
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = home
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:///" + db
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env.pop(CHECKED_TEMPLATES, None)
    with open(log_path, "wb") as log:
        code = subprocess.call(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if code != 0 or not os.path.exists(db):
        with open(log_path, "rb") as log:
            tail = log.read()[-3000:].decode("utf-8", "replace")
        raise HarnessError(f"airflow db migrate failed (exit {code}), log {log_path}:\n{tail}")


# Set by the Docker engine: the cache is mounted read-only, and these are the template DBs our own step made
# (`prepare-cache`), by path, with their sha256 as the engine recorded them outside the container.
CHECKED_TEMPLATES = "AIRFLOW_RUNTIME_TEMPLATE_HASHES"


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checked_template(version: str, expected: dict) -> str:
    """The template DB of a read-only cache, after checking it is the one our own step made."""
    folder = os.path.join(cache_root(), runtime_key(version))
    mine = [path for path in expected if os.path.dirname(path) == folder]
    if not mine or not os.path.exists(mine[0]):
        raise HarnessError(f"the runtime cache has no checked template database for this runtime ({folder})", "cache-unprepared")
    if _sha256(mine[0]) != expected[mine[0]]:
        raise HarnessError(
            f"the template database in the runtime cache was changed since it was made ({mine[0]})", "cache-tampered"
        )
    return mine[0]


def prepare_cache() -> dict:
    """Our own step, with the cache writable and no DAG code: a freshly migrated template DB for this runtime,
    named by its hash and never changed after (so that two prepares at once, or an engine that recorded an older
    one, never see a file change under them), and the hash for the engine to keep outside the container."""
    version = airflow_version()
    folder = os.path.join(cache_root(), runtime_key(version))
    os.makedirs(folder, exist_ok=True)
    home = own_temp_dir("home")
    tmp = os.path.join(folder, f"template.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        _migrate(tmp, os.environ.get("AIRFLOW_HOME") or home, os.path.join(folder, "migrate.log"))
        digest = _sha256(tmp)
        path = os.path.join(folder, f"airflow-{digest[:16]}.db")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(home, True)
        if os.path.exists(tmp):
            os.remove(tmp)
    return {"version": version, "templates": {path: digest}}


def prepare(dags_folder: str | None = None, with_db: bool = True) -> str:
    """Set the env Airflow will read at import. Returns the Airflow version."""
    version = airflow_version()
    checked = os.environ.get(CHECKED_TEMPLATES)
    image_home = os.environ.get("AIRFLOW_HOME")
    if checked is not None and (not image_home or not os.access(image_home, os.W_OK)):
        # The cache is read-only, or the image's home is not ours to write (a root image run as another uid):
        # a home of our own, reading the image's airflow.cfg where it has one.
        home = own_temp_dir("home")
        if image_home and "AIRFLOW_CONFIG" not in os.environ and os.path.isfile(os.path.join(image_home, "airflow.cfg")):
            os.environ["AIRFLOW_CONFIG"] = os.path.join(image_home, "airflow.cfg")
            os.environ.setdefault("AIRFLOW__LOGGING__BASE_LOG_FOLDER", os.path.join(home, "logs"))
        if image_home:  # the DAGs folder stays where the image's home puts it (Airflow's serialized DAGs say it)
            os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(image_home, "dags"))
        os.environ["AIRFLOW_HOME"] = home
    if not os.environ.get("AIRFLOW_HOME"):
        home = os.path.join(cache_root(), runtime_key(version), "home")
        os.makedirs(home, exist_ok=True)
        os.environ["AIRFLOW_HOME"] = home
    home = os.environ["AIRFLOW_HOME"]
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    if dags_folder:
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.abspath(dags_folder)
    if with_db:
        template = _checked_template(version, json.loads(checked)) if checked is not None else _template_db(version, home)
        private = own_temp_dir("db")
        db = os.path.join(private, "airflow.db")
        shutil.copyfile(template, db)
        os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:///" + db
    return version
