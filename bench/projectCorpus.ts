/**
 * A generated project shaped like the real ones issue 24 measured: an Astro-style layout (`dags/`, `include/`;
 * the project root on sys.path), DAG files that import a SQL provider operator, `requests`, `fastapi` and a
 * shared helper from `include/` (which imports a library of its own), and every tenth file a heavy one
 * (an HTTP client stack, an ORM, an email provider, a second helper). Only packages the test images hold.
 *
 * As a command, it writes one: `tsx bench/projectCorpus.ts DIR FILES [IMAGE PYTHON]`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const HELPER = `"""Shared helpers of the project's DAGs (as include/ holds them in an Astro project)."""
from __future__ import annotations

from datetime import datetime, timedelta

import yaml

DEFAULTS = yaml.safe_load("""
owner: data-platform
retries: 2
""")


def default_args() -> dict:
    return {**DEFAULTS, "retry_delay": timedelta(minutes=5), "start_date": datetime(2024, 1, 1)}


def build_query(table: str) -> str:
    return f"SELECT count(*) FROM {table} WHERE ds = '{{{{ ds }}}}'"
`;

const ALERTS = `"""Alerting helpers: a heavy import that only a few DAG files pay."""
from __future__ import annotations

import httpx
from pydantic import BaseModel


class Alert(BaseModel):
    channel: str
    text: str


def client() -> httpx.Client:
    return httpx.Client(timeout=5)
`;

function dagFile(i: number): string {
  const heavy = i % 10 === 0;
  return [
    'from __future__ import annotations',
    '',
    'import json',
    '',
    'import requests',
    'from fastapi import FastAPI',
    '',
    'from airflow import DAG',
    'from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator',
    'from airflow.providers.standard.operators.python import PythonOperator',
    ...(heavy ? [
      'from airflow.providers.smtp.operators.smtp import EmailOperator',
      'import sqlalchemy.orm',
      'from include.alerts import Alert',
    ] : []),
    'from include.helpers import build_query, default_args',
    '',
    'api = FastAPI(title="project api")',
    '',
    '',
    'def fetch(**context):',
    '    return requests.get("https://example.invalid/api", timeout=5).json()',
    '',
    '',
    `with DAG(dag_id="project_${i}", schedule="@daily", default_args=default_args(), catchup=False, tags=["bench", "project"]):`,
    '    extract = PythonOperator(task_id="extract", python_callable=fetch)',
    `    load = SQLExecuteQueryOperator(task_id="load", conn_id="warehouse", sql=build_query("events_${i}"))`,
    '    check = SQLExecuteQueryOperator(task_id="check", conn_id="warehouse", sql="SELECT 1")',
    '    report = PythonOperator(task_id="report", python_callable=lambda: json.dumps({"ok": True}))',
    ...(heavy ? ['    notify = EmailOperator(task_id="notify", to="team@example.invalid", subject=Alert(channel="x", text="done").text, html_content="done")',
      '    extract >> load >> check >> report >> notify'] : ['    extract >> load >> check >> report']),
    '',
  ].join('\n');
}

/** Writes the project into `root`; returns the DAG files (paths relative to the root). */
export function writeProject(root: string, files: number, runtimeYaml: string): string[] {
  mkdirSync(path.join(root, 'dags'), { recursive: true });
  mkdirSync(path.join(root, 'include'), { recursive: true });
  mkdirSync(path.join(root, '.astro'), { recursive: true });
  writeFileSync(path.join(root, 'include', '__init__.py'), '');
  writeFileSync(path.join(root, 'include', 'helpers.py'), HELPER);
  writeFileSync(path.join(root, 'include', 'alerts.py'), ALERTS);
  writeFileSync(path.join(root, 'airflow-runtime.yaml'), runtimeYaml);
  const names: string[] = [];
  for (let i = 0; i < files; i++) {
    const name = path.join('dags', `project_${String(i).padStart(4, '0')}.py`);
    writeFileSync(path.join(root, name), dagFile(i));
    names.push(name);
  }
  return names;
}

if (require.main === module) {
  const [dir, count, image = 'airflow-runtime-test/airflow:3.3.2', python = ''] = process.argv.slice(2);
  if (!dir || !count) {
    console.error('usage: tsx bench/projectCorpus.ts DIR FILES [IMAGE PYTHON]');
    process.exit(2);
  }
  const yaml = `image: ${image}\npull: never\n${python ? `local:\n  python: ${python}\n` : ''}timeouts:\n  parse: 5m\n`;
  console.log(writeProject(dir, Number(count), yaml).length, 'DAG files in', dir);
}
