"""Which files belong to the user (the DAGs folder) and which to Airflow or libraries."""
from __future__ import annotations

import os


class UserFiles:
    """Answers "is this frame's file the user's?" for one parse (DAG file + DAGs folder)."""

    def __init__(self, dag_file: str, dags_folder: str):
        self.dag_file = os.path.realpath(dag_file)
        folder = os.path.realpath(dags_folder)
        self.folder = folder.rstrip(os.sep) + os.sep
        self._cache: dict[str, bool] = {}

    def contains(self, filename: str | None) -> bool:
        if not filename or filename.startswith("<"):
            return False
        hit = self._cache.get(filename)
        if hit is None:
            real = os.path.realpath(filename)
            # site-packages below the DAGs folder (a venv inside the repo) is not user code
            hit = real == self.dag_file or (
                real.startswith(self.folder) and os.sep + "site-packages" + os.sep not in real[len(self.folder) - 1:]
            )
            self._cache[filename] = hit
        return hit

    def display(self, filename: str) -> str:
        """Absolute path as the runtime sees it (not resolved, so mounts keep their names)."""
        return os.path.abspath(filename)
