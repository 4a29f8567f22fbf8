"""The exact expected parse result of every corpus file (same for Airflow 2.x and 3.x).

Tasks: task_id -> (line, upstream, downstream, task group, mapped).
Errors: (file relative to corpus/, line, column or None when not checked, message substring).
Lines and columns are 1-based. A @task's line is its first decorator; a @dag DAG's line is its
first decorator; a classic operator's line is its constructor call; Op.partial() for mapped ones.
"""

EXPECTED = {
    "classic.py": {
        "dags": {
            "classic": {
                "line": 10,
                "schedule": "@daily",
                "tags": ["classic", "corpus"],
                "owner": "team-a",
                "tasks": {
                    "start": (17, [], ["say_hello"], None, False),
                    "say_hello": (18, ["start"], ["shard_0", "shard_1", "shard_2"], None, False),
                    "shard_0": (22, ["say_hello"], ["end"], None, False),
                    "shard_1": (22, ["say_hello"], ["end"], None, False),
                    "shard_2": (22, ["say_hello"], ["end"], None, False),
                    "end": (23, ["shard_0", "shard_1", "shard_2"], [], None, False),
                },
            },
        },
        "errors": [],
    },
    "decorated.py": {
        "dags": {
            "decorated": {
                "line": 6,
                "schedule": None,
                "tags": ["corpus"],
                "tasks": {
                    "extract": (12, [], ["transform"], None, False),
                    "transform": (16, ["extract"], ["load"], None, False),
                    "load": (20, ["transform"], [], None, False),
                },
            },
        },
        "errors": [],
    },
    "groups.py": {
        "dags": {
            "groups": {
                "line": 5,
                "schedule": None,
                "tags": [],
                "tasks": {
                    "begin": (6, [], ["section.a"], None, False),
                    "section.a": (8, ["begin"], ["section.b"], "section", False),
                    "section.b": (9, ["section.a"], ["decorated_group.step"], "section", False),
                    "decorated_group.step": (14, ["section.b"], ["finish"], "decorated_group", False),
                    "finish": (20, ["decorated_group.step"], [], None, False),
                },
            },
        },
        "errors": [],
    },
    "mapping.py": {
        "dags": {
            "mapping": {
                "line": 5,
                "schedule": None,
                "tags": [],
                "tasks": {
                    "numbers": (7, [], ["double"], None, False),
                    "double": (11, ["numbers"], ["echo"], None, True),
                    "echo": (16, ["double"], [], None, True),
                },
            },
        },
        "errors": [],
    },
    "multi.py": {
        "dags": {
            "multi_first": {"line": 5, "schedule": None, "tags": [], "tasks": {"only": (6, [], [], None, False)}},
            "multi_second": {
                "line": 8,
                "schedule": "@hourly",
                "tags": [],
                "tasks": {"x": (9, [], ["y"], None, False), "y": (10, ["x"], [], None, False)},
            },
        },
        "errors": [],
    },
    "generated.py": {
        "dags": {
            f"generated_{name}": {
                "line": 7,
                "schedule": None,
                "tags": [],
                "tasks": {f"{name}_step_{i}": (9, [], [], None, False) for i in range(2)},
            }
            for name in ("alpha", "beta", "gamma")
        },
        "errors": [],
    },
    "syntax_error.py": {"dags": {}, "errors": [("syntax_error.py", 6, 9, "SyntaxError")]},
    "missing_module.py": {"dags": {}, "errors": [("missing_module.py", 4, None, "ModuleNotFoundError")]},
    "helper_error.py": {"dags": {}, "errors": [("helpers/broken.py", 8, None, "helper exploded on purpose")]},
    # no traceback: Airflow finds the cycle when bagging the DAG; we point at the edge that closed it
    "cycle.py": {"dags": {}, "errors": [("cycle.py", 9, 1, "closes the cycle")]},
    # raised while the file runs: points at the second task with that id
    "duplicate_task.py": {"dags": {}, "errors": [("duplicate_task.py", 7, None, "same")]},
    "variable.py": {"dags": {}, "errors": [("variable.py", 10, None, "corpus_env")]},
    "loud.py": {
        "dags": {"loud": {"line": 10, "schedule": None, "tags": [], "tasks": {"quiet_task": (11, [], [], None, False)}}},
        "errors": [],
    },
}

# variable.py with AIRFLOW_VAR_CORPUS_ENV=prod
VARIABLE_SET = {
    "dags": {"variable_prod": {"line": 12, "schedule": None, "tags": [], "tasks": {"uses_variable": (13, [], [], None, False)}}},
    "errors": [],
}

# hang.py with a 3 s timeout
HANG = {"dags": {}, "errors": [("hang.py", 6, None, "did not finish within 3s")], "timedOut": True}


def check(result: dict, expected: dict, corpus_root: str, name: str) -> None:
    """Assert a parse result equals the expectation exactly (paths as the runtime saw them)."""
    root = corpus_root.rstrip("/")
    assert result["format"] == "airflow-runtime/parse-result@1"
    assert result["file"] == f"{root}/{name}"
    assert result["timedOut"] is expected.get("timedOut", False)
    errors = [(e["file"], e["line"], e["column"], e["message"]) for e in result["importErrors"]]
    assert len(errors) == len(expected["errors"]), errors
    for (file, line, column, message), (efile, eline, ecol, emsg) in zip(errors, expected["errors"]):
        assert (file, line) == (f"{root}/{efile}", eline), (file, line, message)
        if ecol is not None:
            assert column == ecol, (file, line, column, message)
        assert emsg in message, message
    for e in result["importErrors"]:
        assert e["traceback"], e
    got = {d["dagId"]: d for d in result["dags"]}
    assert sorted(got) == sorted(expected["dags"])
    for dag_id, exp in expected["dags"].items():
        dag = got[dag_id]
        assert dag["line"] == exp["line"], (dag_id, dag["line"])
        assert dag["file"] == f"{root}/{name}"
        assert dag["schedule"] == exp["schedule"], (dag_id, dag["schedule"])
        assert dag["tags"] == exp["tags"]
        if "owner" in exp:
            assert dag["owner"] == exp["owner"]
        assert isinstance(dag["serialized"], dict) and dag["serialized"]
        tasks = {t["taskId"]: (t["line"], t["upstream"], t["downstream"], t["taskGroup"], t["mapped"]) for t in dag["tasks"]}
        assert tasks == {k: (v[0], list(v[1]), list(v[2]), v[3], v[4]) for k, v in exp["tasks"].items()}
        for t in dag["tasks"]:
            assert t["file"] == f"{root}/{name}"
