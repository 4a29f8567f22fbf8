/** `airflow-runtime up` / `down` refusing what they cannot run, as a user runs them: exit 2, a message, no stack. Needs `npm run build`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const made: string[] = [];

function cli(args: string[], cwd: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A project (marked by .vscode) with these files. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-up-cli-'));
  made.push(dir);
  mkdirSync(path.join(dir, '.vscode'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const noStack = (text: string) => assert.doesNotMatch(text, /^\s+at /m, 'no stack trace of ours');

describe('up and down: bad input', () => {
  after(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('refuses a port that is not one', () => {
    const ran = cli(['up', '--port', '99999'], project({}));
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /--port must be a port number \(1-65535\), not "99999"/);
    noStack(ran.stderr);
  });

  it('refuses a folder that does not exist', () => {
    const ran = cli(['up', 'no/such/folder'], project({}));
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /no such folder: no\/such\/folder/);
  });

  it('says there is nothing to run in a folder without DAG files', () => {
    const ran = cli(['up'], project({ 'README.md': 'no DAGs here\n' }));
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /no DAG files under .* nothing to run/);
    noStack(ran.stderr);
  });

  it('stops at a runtime file with errors, at its line, before Docker is asked', () => {
    const ran = cli(['up'], project({ 'dags/airflow-runtime.yaml': 'imagee: airflow-runtime-test/airflow:3.3.2\n', 'dags/a.py': 'from airflow.sdk import dag\n' }));
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /airflow-runtime\.yaml:1:1: error: unknown key "imagee"/);
    assert.match(ran.stderr, /not started: fix the problems above/);
  });

  it('refuses Airflow 2 runtimes by their declared version, naming the per-image Celery mode', () => {
    const ran = cli(['up'], project({ 'dags/airflow-runtime.yaml': 'image: apache/airflow:2.11.2\n', 'dags/a.py': 'from airflow import DAG\n' }));
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /Airflow 3 only.*apache\/airflow:2\.11\.2/);
    assert.match(ran.stderr, /per-image Celery mode/);
    noStack(ran.stderr);
  });
});
