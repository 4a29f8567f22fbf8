"""Waiting for a debugger: debugpy, put on sys.path by the engine (the runtime's image and venv are untouched).

The engine sets AIRFLOW_RUNTIME_DEBUG_PORT (and _HOST: 0.0.0.0 in a container, whose port is published on
127.0.0.1 only; 127.0.0.1 locally) and PATHS_FROM_ECLIPSE_TO_PYTHON, debugpy's own server-side path map from
host paths to the runtime's: a client that sets breakpoints by host path needs no path mapping of its own.
"""

from __future__ import annotations

import os

from .env import HarnessError, emit_event

PORT = "AIRFLOW_RUNTIME_DEBUG_PORT"


def asked() -> bool:
    return bool(os.environ.get(PORT))


def wait_for_client() -> None:
    """Listens, tells the engine (a `debug-listening` event) and waits until a client has attached."""
    port = int(os.environ[PORT])
    host = os.environ.get("AIRFLOW_RUNTIME_DEBUG_HOST", "127.0.0.1")
    try:
        import debugpy
    except ImportError as exc:
        raise HarnessError(f"debugpy is not on the runtime's path ({exc}): the engine puts it there", "debugpy-missing") from exc
    debugpy.listen((host, port))
    emit_event("debug-listening", port=port)
    debugpy.wait_for_client()


def program_ended() -> None:
    """Tells the engine the program ended by itself, before what is left (debugpy's adapter) is stopped: the
    editor's session then ends as a finished run, not as a person pressing Stop."""
    import time

    emit_event("debug-ended")
    time.sleep(0.3)  # the event reaches the editor before the adapter's connection closes
