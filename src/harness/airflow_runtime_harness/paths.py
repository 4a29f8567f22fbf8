"""Which files belong to the user (the DAGs folder) and which to Airflow or libraries."""

from __future__ import annotations

import os

# The project's other folders that hold the user's code (plugins/, include/, a runtime file's
# pythonPath), as the engine placed them in the runtime: os.pathsep-separated.
USER_PATHS_ENV = "AIRFLOW_RUNTIME_USER_PATHS"


def _folder(path: str) -> str:
    return os.path.realpath(path).rstrip(os.sep) + os.sep


class UserFiles:
    """Answers "is this frame's file the user's?" for one parse (DAG file + DAGs folder + the
    project folders the engine named)."""

    def __init__(self, dag_file: str, dags_folder: str):
        self.dag_file = os.path.realpath(dag_file)
        self.dag_file_as_run = os.path.abspath(dag_file)  # not resolved: the path the result names
        self.folder = _folder(dags_folder)
        extra = [p for p in os.environ.get(USER_PATHS_ENV, "").split(os.pathsep) if p]
        self.folders = [self.folder, *(_folder(p) for p in extra)]
        self._cache: dict[str, bool] = {}

    def contains(self, filename: str | None) -> bool:
        if not filename or filename.startswith("<"):
            return False
        hit = self._cache.get(filename)
        if hit is None:
            real = os.path.realpath(filename)
            # site-packages below the DAGs folder (a venv inside the repo) is not user code
            hit = real == self.dag_file or any(
                real.startswith(folder) and os.sep + "site-packages" + os.sep not in real[len(folder) - 1 :]
                for folder in self.folders
            )
            self._cache[filename] = hit
        return hit

    def is_dag_file(self, filename: str | None) -> bool:
        return bool(filename) and not filename.startswith("<") and os.path.realpath(filename) == self.dag_file

    def display(self, filename: str) -> str:
        """Absolute path as the runtime sees it (not resolved, so mounts keep their names)."""
        return os.path.abspath(filename)
