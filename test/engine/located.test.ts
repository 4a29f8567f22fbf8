/**
 * Where `parse` says things are, through the built CLI, on a project with shared helpers (test/projects/shared):
 * a @task of include/ called once per DAG file is at each call; a helper that fails at import is said once at its
 * line, naming its importers, and each importer at its import line (the JSON keeps one result per DAG file, with
 * `related`); warnings raised inside Airflow and libraries are hidden unless asked; a DAG argument the serializer
 * rejects is at that argument; tracebacks (and warnings) leave out the harness; a missing top-level package that is a folder of
 * the project names pythonPath; a parse stopped by timeouts.parse is said at the line that was running and as the
 * timeout, the problems the editor shows; a folder with no DAG files says what was looked at.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { cli, dockerProblem, image, needs, REPO, scratchWorkspace, venvPython, venvProblem, VERSIONS } from './support';

const SHARED = path.join(REPO, 'test/projects/shared');

// Airflow 3's asset watchers: the serializer asks the trigger to describe itself, and this one cannot.
const REJECTED = `import datetime

from airflow.sdk import DAG, Asset, AssetWatcher
from airflow.triggers.base import BaseEventTrigger


class QueueTrigger(BaseEventTrigger):
    def __init__(self, queue):
        super().__init__()
        self.queue = queue

    def serialize(self):
        raise ValueError(f"queue {self.queue!r} has no scheme")

    async def run(self):
        yield None


orders = QueueTrigger(queue="orders")
watched = Asset("orders", watchers=[AssetWatcher(name="orders", trigger=orders)])

with DAG(
    "rejected",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=[watched],
) as dag:
    pass
`;

interface Result {
  file: string;
  dags: { dagId: string; tasks: { taskId: string; file: string; line: number; definitionLine: number | null; definitionFile: string | null }[] }[];
  importErrors: { file: string; line: number; column: number; message: string; traceback: string; hint?: string; related?: { file: string; line: number }[] }[];
  warnings: { file: string; message: string; internal?: boolean }[];
}

const runtimeFile = (version: string) => `image: ${image(version)}\npull: never\nlocal:\n  python: ${venvPython(version)}\n`;
const resultSchema = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(path.join(REPO, 'media/parse-result.schema.json'), 'utf8')));

function sharedProject(version: string): string {
  const ws = scratchWorkspace(`located-${version}`);
  cpSync(SHARED, ws, { recursive: true, filter: (source) => !source.includes('__pycache__') });
  writeFileSync(path.join(ws, 'airflow-runtime.yaml'), runtimeFile(version));
  if (version.startsWith('3.')) writeFileSync(path.join(ws, 'dags/rejected.py'), REJECTED);
  return ws;
}

/** The JSON results by file relative to the project, with every path in them relative too. */
function byFile(ws: string, stdout: string): Record<string, Result> {
  const results = JSON.parse(stdout) as Result[];
  for (const result of results) assert.ok(resultSchema(result), `${result.file}: ${JSON.stringify(resultSchema.errors)}`);
  const rel = (text: string) => text.split(`${ws}/`).join('');
  return Object.fromEntries(results.map((r) => [rel(r.file), JSON.parse(rel(JSON.stringify(r))) as Result]));
}

for (const version of VERSIONS) {
  const major = Number(version.split('.')[0]);
  describe(`where parse says things are (Airflow ${version}, local)`, { ...needs(venvProblem()), timeout: 600_000 }, () => {
    const ws = sharedProject(version);

    it('text: a failing helper once, naming its importers, then each importer at its import line; library warnings hidden', async () => {
      const { code, stdout, stderr } = await cli(['parse', '.', '--engine', 'local'], { cwd: ws });
      assert.equal(code, 1, stdout + stderr);
      const errors = stdout.split('\n').filter((line) => /: error: /.test(line) && !line.startsWith('dags/rejected.py'));
      assert.deepEqual(errors, [
        "include/db.py:5:8: error: KeyError: 'PGHOST' (imported by dags/report_a.py:3, dags/report_b.py:5)",
        'dags/report_a.py:3:1: error: the import of include/db.py failed (above)',
        'dags/report_b.py:5:1: error: the import of include/db.py failed (above)',
      ], stdout);
      assert.doesNotMatch(stdout, /_app_ctx_stack|MovedIn20Warning|marshmallow/, 'warnings raised inside libraries are not the user\'s');
      if (major === 2) assert.match(stderr, /^\d+ warnings? raised inside Airflow or libraries not shown \(--all-warnings shows them\)$/m);
      if (major === 3) {
        assert.match(stdout, /^dags\/rejected\.py:25:14: error: SerializationError: Failed to serialize DAG 'rejected': queue 'orders' has no scheme$/m);
      }
    });

    if (major === 2) {
      it('text: --all-warnings shows the warnings raised inside Airflow and libraries', async () => {
        const { stdout } = await cli(['parse', 'dags/library_warnings.py', '--engine', 'local', '--all-warnings'], { cwd: ws });
        assert.match(stdout, /^dags\/library_warnings\.py:7:1: warning: DeprecationWarning: '_app_ctx_stack' is deprecated/m);
      });
    }

    it('json: one result per DAG file, the helper error related to its import line, helper tasks at their calls, no harness frames', async () => {
      const { code, stdout, stderr } = await cli(['parse', '.', '--engine', 'local', '--format', 'json'], { cwd: ws });
      assert.equal(code, 1, stderr);
      const results = byFile(ws, stdout);
      assert.deepEqual(Object.keys(results).sort(), ['dags/customers.py', 'dags/library_warnings.py', 'dags/orders.py', 'dags/report_a.py', 'dags/report_b.py', ...(major === 3 ? ['dags/rejected.py'] : [])].sort());
      for (const [file, line] of [['dags/report_a.py', 3], ['dags/report_b.py', 5]] as const) {
        const [error] = results[file].importErrors;
        assert.deepEqual([error.file, error.line, error.column, error.message, error.related?.map((r) => [r.file, r.line])], ['include/db.py', 5, 8, "KeyError: 'PGHOST'", [[file, line]]]);
      }
      for (const [file, line] of [['dags/orders.py', 7], ['dags/customers.py', 8]] as const) {
        const [task] = results[file].dags[0].tasks;
        assert.deepEqual([task.file, task.line, task.definitionFile, task.definitionLine], [file, line, 'include/tasks.py', 8]);
      }
      for (const result of Object.values(results)) for (const error of result.importErrors) assert.doesNotMatch(error.traceback, /airflow_runtime_harness/, result.file);
      if (major === 2) {
        const warnings = results['dags/library_warnings.py'].warnings;
        assert.ok(warnings.some((w) => w.message.includes('_app_ctx_stack') && w.internal === true), 'kept in the JSON, marked');
      }
      if (major === 3) {
        const [error] = results['dags/rejected.py'].importErrors;
        assert.deepEqual([error.file, error.line, error.column, error.related?.map((r) => [r.file, r.line])], ['dags/rejected.py', 25, 14, [['dags/rejected.py', 22]]]);
      }
    });

    it('run: what it prints of a failing DAG file (Airflow\'s log, warnings) names no harness file', async () => {
      const { code, stdout, stderr } = await cli(['run', 'dags/report_a.py', 'report_a', 'connect', '--engine', 'local'], { cwd: ws });
      assert.equal(code, 1, stdout + stderr);
      assert.match(stdout + stderr, /include\/db\.py", line 5/, 'the traceback is there');
      assert.doesNotMatch(stdout + stderr, /airflow_runtime_harness/);
    });

    it('an import of a top-level package that is a folder of the project names pythonPath', async () => {
      const official = scratchWorkspace(`pythonpath-hint-${version}`, {
        'airflow-runtime.yaml': runtimeFile(version),
        'plugins/.keep': '',
        'dags/common/__init__.py': 'OWNER = "team"\n',
        'dags/uses_common.py': 'import datetime\nfrom airflow import DAG\nfrom dags.common import OWNER\n\nwith DAG("uses_common", start_date=datetime.datetime(2024, 1, 1), schedule=None, default_args={"owner": OWNER}):\n    pass\n',
      });
      const hint = 'dags/ is in the project, but the folder that holds it is not on the runtime\'s sys.path: add pythonPath: ["."] to the airflow-runtime.yaml at the project root';
      const text = await cli(['parse', 'dags', '--engine', 'local'], { cwd: official });
      assert.equal(text.code, 1, text.stdout + text.stderr);
      assert.ok(text.stdout.includes(`dags/uses_common.py:3:1: error: ModuleNotFoundError: No module named 'dags' (${hint})`), text.stdout);
      const json = await cli(['parse', 'dags', '--engine', 'local', '--format', 'json'], { cwd: official });
      assert.equal(byFile(official, json.stdout)['dags/uses_common.py'].importErrors[0].hint, hint);
      // and the hint is right
      writeFileSync(path.join(official, 'airflow-runtime.yaml'), `${runtimeFile(version)}pythonPath: ["."]\n`);
      const fixed = await cli(['parse', 'dags', '--engine', 'local'], { cwd: official });
      assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    });
  });
}

describe('the same on Docker, where paths are mapped back from the container', { ...needs(dockerProblem(), venvProblem()), timeout: 600_000 }, () => {
  const version = VERSIONS[VERSIONS.length - 1];
  const ws = sharedProject(version);
  it('gives what the local runtime emulator gives', async () => {
    const [docker, local] = await Promise.all(['docker', 'local'].map((engine) => cli(['parse', '.', '--engine', engine, '--format', 'json'], { cwd: ws })));
    const located = (results: Record<string, Result>) => Object.fromEntries(Object.entries(results).map(([file, r]) => [file, {
      tasks: r.dags.flatMap((d) => d.tasks.map((t) => [t.taskId, t.file, t.line, t.definitionFile, t.definitionLine])),
      errors: r.importErrors.map((e) => [e.file, e.line, e.column, e.related]),
    }]));
    const fromDocker = byFile(ws, docker.stdout);
    assert.deepEqual(located(fromDocker), located(byFile(ws, local.stdout)));
    assert.deepEqual(fromDocker['dags/orders.py'].dags[0].tasks.map((t) => [t.file, t.definitionFile]), [['dags/orders.py', 'include/tasks.py']]);
    for (const result of Object.values(fromDocker)) for (const error of result.importErrors) assert.doesNotMatch(error.traceback, /airflow_runtime_harness/, result.file);
  });
});

describe('a parse stopped by timeouts.parse, as text', { ...needs(venvProblem()), timeout: 300_000 }, () => {
  const version = VERSIONS[VERSIONS.length - 1];
  it('says the line that was running and the timeout, as the editor does (exit 1)', async () => {
    const ws = scratchWorkspace('located-timeout', {
      'airflow-runtime.yaml': `${runtimeFile(version)}timeouts:\n  parse: 2s\n`,
      'dags/slow.py': 'import time\nfrom airflow import DAG\ntime.sleep(120)\n',
    });
    const { code, stdout, stderr } = await cli(['parse', 'dags/slow.py', '--engine', 'local'], { cwd: ws });
    assert.equal(code, 1, stdout + stderr);
    assert.deepEqual(stdout.split('\n').filter((line) => line.includes(': error: ')), [
      'dags/slow.py:3:1: error: TimeoutError: parsing did not finish within 2s (it was running line 3 of slow.py)',
      'dags/slow.py:1:1: error: parsing this DAG file did not finish within timeouts.parse: it was stopped (look for slow top-level code)',
    ]);
    assert.match(stderr, /^dags\/slow\.py: timed out/m);
  });
});

describe('a folder with no DAG files', () => {
  it('says what was looked at and which rule skipped each file (exit 0)', async () => {
    const ws = scratchWorkspace('no-dag-files', {
      'dags/util.py': 'x = 1\n',
      'dags/empty.py': '',
      'dags/.airflowignore': 'legacy\n',
      'dags/legacy.py': 'from airflow import DAG  # dag\n',
      'dags/node_modules/x.py': 'from airflow import DAG  # dag\n',
    });
    const { code, stdout, stderr } = await cli(['parse', '.'], { cwd: ws });
    assert.equal(code, 0, stdout + stderr);
    assert.match(stderr, /^no DAG files found in \.: 3 \.py files looked at, none of them a DAG file as Airflow finds them/m);
    assert.match(stderr, /^ {2}dags\/util\.py: it does not mention "airflow" and "dag", so Airflow \d's safe mode skips it$/m);
    assert.match(stderr, /^ {2}dags\/empty\.py: it is empty, so Airflow \d's safe mode skips it$/m);
    assert.match(stderr, /^ {2}dags\/legacy\.py: .*dags\/\.airflowignore:1 excludes it/m);
    assert.match(stderr, /^ {2}not looked into: dags\/node_modules\/ \(a dependency folder\)$/m);
  });

  it('says so when there are no .py files at all', async () => {
    const ws = scratchWorkspace('no-py-files', { 'README.md': '# nothing here\n' });
    const { code, stderr } = await cli(['parse', '.'], { cwd: ws });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^no DAG files found in \.: it holds no \.py files \(hidden folders are not looked into\)$/m);
  });
});
