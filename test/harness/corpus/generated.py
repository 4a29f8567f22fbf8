import datetime

from _compat import DAG, EmptyOperator


def build(name):
    with DAG(f"generated_{name}", start_date=datetime.datetime(2024, 1, 1), schedule=None) as generated:
        for step in range(2):
            EmptyOperator(task_id=f"{name}_step_{step}")
    return generated


for name in ["alpha", "beta", "gamma"]:
    globals()[f"dag_{name}"] = build(name)
