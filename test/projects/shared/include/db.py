"""A helper that fails when it is imported: its setting is missing."""
import os

SETTINGS = {"PGUSER": "airflow"}
HOST = SETTINGS["PGHOST"]


def connect():
    return HOST
