"""Airflow's own secrets masker told about the runtime's secrets before a task runs, so that Airflow's log lines
mask them as they would in production (the host redacts every line again: this is the first of two nets).

The secrets are what the host treats as secret (src/core/runtime/secrets.ts): connection passwords and extras
(`AIRFLOW_CONN_*`, URI or JSON), and Variables (`AIRFLOW_VAR_*`) whose key Airflow deems sensitive, with
Airflow's own rule (`should_hide_value_for_key`, which reads `[core] sensitive_var_conn_names`).
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qsl, unquote, urlsplit

CONN_PREFIX = "AIRFLOW_CONN_"
VAR_PREFIX = "AIRFLOW_VAR_"


def _masker():
    """(mask_secret, should_hide_value_for_key) of the Airflow in this runtime."""
    try:  # Airflow 3: the Task SDK's masker (it also tells the supervisor, when there is one)
        from airflow.sdk.log import mask_secret

        try:
            from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
        except ImportError:
            from airflow.sdk.execution_time.secrets_masker import should_hide_value_for_key
        return mask_secret, should_hide_value_for_key
    except ImportError:  # Airflow 2
        from airflow.utils.log.secrets_masker import mask_secret, should_hide_value_for_key

        return mask_secret, should_hide_value_for_key


def _leaves(value):
    """Every string and number inside a JSON value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield str(value)


def _sensitive_leaves(value, hide):
    """The values under sensitive keys of a JSON value (a Variable that is not secret as a whole)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if hide(str(key)):
                yield from _leaves(item)
            else:
                yield from _sensitive_leaves(item, hide)
    elif isinstance(value, list):
        for item in value:
            yield from _sensitive_leaves(item, hide)


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def connection_secrets(text: str) -> list[str]:
    """The password and the extras of a connection given as JSON or as a URI."""
    found: list[str] = []
    if text.lstrip().startswith("{"):
        fields = _json(text) or {}
        if isinstance(fields.get("password"), str):
            found.append(fields["password"])
        extra = fields.get("extra")
        if isinstance(extra, str):
            found.append(extra)
            extra = _json(extra)
        found.extend(_leaves(extra or {}))
        return found
    parts = urlsplit(text)
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        found.append(value)
        if key == "__extra__":
            found.extend(_leaves(_json(value) or {}))
    return found


def variable_secrets(key: str, text: str, hide) -> list[str]:
    """A sensitive Variable's value (and what its JSON holds); else only what sits under sensitive keys of its JSON."""
    value = _json(text)
    if hide(key):
        return [text, *(_leaves(value) if isinstance(value, (dict, list)) else [])]
    return list(_sensitive_leaves(value, hide)) if isinstance(value, (dict, list)) else []


def runtime_secrets(environ=None, hide=None) -> list[str]:
    environ = os.environ if environ is None else environ
    if hide is None:
        hide = _masker()[1]
    found: list[str] = []
    for name, text in environ.items():
        if name.startswith(CONN_PREFIX):
            found += connection_secrets(text)
        elif name.startswith(VAR_PREFIX):
            found += variable_secrets(name[len(VAR_PREFIX) :].lower(), text, hide)
    return [secret for secret in dict.fromkeys(found) if secret]


def mask_runtime_secrets() -> int:
    """Registers the runtime's secrets with Airflow's masker; how many. Never fails the run: the host redacts too."""
    try:
        mask_secret, hide = _masker()
        secrets = runtime_secrets(hide=hide)
        for secret in secrets:
            mask_secret(secret)
        return len(secrets)
    except Exception:
        return 0
