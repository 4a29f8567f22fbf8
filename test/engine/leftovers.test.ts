/**
 * What the local engine leaves on the machine: nothing. Each CLI here gets a temp folder of its own (TMPDIR), so
 * what it leaves is told apart from other work on the machine; the sandbox is off where it would hide a leak (its
 * private /tmp) or a write into the project (its read-only files).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, cli, needs, scratchWorkspace, venvPython, venvProblem } from './support';

const VERSION = '2.11.2';

/** An Astro project with a DAG file that imports a helper from dags/ and one from include/, and one that hangs. */
function project(): string {
  return scratchWorkspace('leftovers', {
    '.astro/config.yaml': 'project:\n  name: leftovers\n',
    'dags/airflow-runtime.yaml': `local:\n  python: ${venvPython(VERSION)}\ntimeouts:\n  parse: 5m\n`,
    'dags/etl.py': 'from datetime import datetime\nfrom airflow import DAG\nimport helper\nfrom include import shared\nwith DAG("etl", schedule=None, start_date=datetime(2024, 1, 1)):\n    pass\n',
    'dags/helper.py': 'VALUE = 1\n',
    'include/shared.py': 'VALUE = 2\n',
    'dags/hang/hang.py': 'import time\nfrom airflow import DAG\ntime.sleep(600)\n',
  });
}

function privateTmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'leftovers-tmp-'));
}

/** Every folder named __pycache__ under `root`. */
function pycaches(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name === '__pycache__') out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

describe('a local parse leaves no temp folder and writes nothing into the project', { ...needs(venvProblem()), timeout: 300_000 }, () => {
  for (const sandbox of ['without a sandbox', 'in the sandbox'] as const) {
    for (const mode of [[], ['--cold']]) {
      it(`${mode.length ? 'cold' : 'warm'}, ${sandbox}`, async () => {
        const ws = project();
        const tmp = privateTmp();
        const env: Record<string, string> = { TMPDIR: tmp, ...(sandbox === 'without a sandbox' ? { AIRFLOW_RUNTIME_NO_SANDBOX: '1' } : {}) };
        const { code, stdout, stderr } = await cli(['parse', 'dags/etl.py', '--engine', 'local', ...mode], { cwd: ws, env });
        assert.equal(code, 0, stdout + stderr);
        assert.deepEqual(readdirSync(tmp), [], 'temp folders left behind');
        assert.deepEqual(pycaches(ws), [], '__pycache__ written into the project');
      });
    }
  }

  for (const mode of [[], ['--cold']]) {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      it(`a ${mode.length ? 'cold' : 'warm'} parse ended by ${signal === 'SIGINT' ? 'Ctrl-C' : 'kill -9 of the CLI'} leaves none either`, async () => {
        const ws = project();
        const tmp = privateTmp();
        const child = spawn(process.execPath, [CLI, 'parse', 'dags/hang/hang.py', '--engine', 'local', ...mode], {
          cwd: ws, env: { ...process.env, TMPDIR: tmp, AIRFLOW_RUNTIME_NO_SANDBOX: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (c) => (output += c));
        child.stderr.on('data', (c) => (output += c));
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        // the DAG file is running once the harness made its private home (AIRFLOW_HOME) in our temp folder
        const homeMade = () => readdirSync(tmp, { recursive: true }).some((name) => String(name).includes('airflow-runtime-home-'));
        for (let i = 0; i < 1200 && !homeMade(); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(homeMade(), `the parse did not start: ${output}`);
        await new Promise((r) => setTimeout(r, 1000));
        child.kill(signal);
        const code = await exited;
        if (signal === 'SIGINT') assert.equal(code, 2, output);
        // after a kill -9 the harness sees its owner gone (its stdin closes) and removes its temp folder itself
        for (let i = 0; i < 200 && readdirSync(tmp).length; i++) await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(readdirSync(tmp), [], `temp folders left behind:\n${output}`);
      });
    }
  }
});

describe('cleanup says whose each leftover is', { timeout: 60_000 }, () => {
  it('--dry-run counts an orphan temp folder and a harness process, with project, age and owner pid', async () => {
    const tmp = privateTmp();
    const orphan = path.join(tmp, 'airflow-runtime-home-999999999-planted');
    mkdirSync(path.join(orphan, 'logs'), { recursive: true });
    writeFileSync(path.join(orphan, '.airflow-runtime-owner.json'), JSON.stringify({ owner: `${os.hostname()}:999999999`, project: '/somewhere/else' }));
    const ws = project();
    // a harness process of another job whose owner is gone: found by its owner marker, working in its project
    const stray = spawn('sleep', ['600'], { cwd: ws, env: { ...process.env, AIRFLOW_RUNTIME_OWNER: `${os.hostname()}:999999999` }, stdio: 'ignore' });
    try {
      const { code, stdout, stderr } = await cli(['cleanup', '--dry-run'], { env: { TMPDIR: tmp } });
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`^would remove temp folder ${orphan} \\(project /somewhere/else, \\d+ s old, owner pid 999999999 gone\\)$`, 'm'));
      assert.match(stdout, new RegExp(`^would remove process ${stray.pid} \\(project ${ws}, \\d+ s old, owner pid 999999999 gone; sleep 600\\)$`, 'm'));
      assert.match(stdout, /^\d+ to remove;/m);
      assert.doesNotMatch(stdout, /^0 to remove/m);
      assert.deepEqual(readdirSync(tmp), ['airflow-runtime-home-999999999-planted'], '--dry-run removed it');
    } finally {
      stray.kill('SIGKILL');
    }
  });
});
