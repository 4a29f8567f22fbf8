"""A helper module whose import fails: the error must point here, not at the DAG file."""


def settings():
    return {"retries": 1}


raise RuntimeError("helper exploded on purpose")
