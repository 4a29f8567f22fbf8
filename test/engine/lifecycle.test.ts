/**
 * Nothing left behind, and errors that say the truth: the built CLI, interrupted and killed as people do it,
 * against a real Docker engine and real Airflow. What a test started is found by its owner marker (the CLI's
 * host:pid on containers and local harness processes, its pid in temp folder names), never by a common name:
 * other work runs on the same machine.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, cli, dockerProblem, image, needs, scratchWorkspace, venvPython, venvProblem } from './support';

const VERSION = '2.11.2';
const real = needs(dockerProblem(), venvProblem());

/** A workspace whose DAG file hangs at import (its budget is long: only a signal ends it) and a quick one. */
function hangingWorkspace(): string {
  return scratchWorkspace('lifecycle', {
    'dags/airflow-runtime.yaml': `image: ${image(VERSION)}\npull: never\ntimeouts:\n  parse: 5m\n  run: 5m\nlocal:\n  python: ${venvPython(VERSION)}\n`,
    'dags/quick.py': 'from airflow import DAG\n',
    'dags/hang.py': 'import time\nfrom airflow import DAG\ntime.sleep(600)\n',
    'dags/tasks.py': [
      'import time', 'from datetime import datetime', 'from airflow import DAG', 'from airflow.operators.bash import BashOperator',
      'with DAG(dag_id="tasks", schedule=None, start_date=datetime(2024, 1, 1)) as dag:',
      '    BashOperator(task_id="hang", bash_command="sleep 600")', '',
    ].join('\n'),
  });
}

function start(args: string[], cwd: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const env = { ...process.env };
  delete env.DOCKER_HOST;
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** What is left of the CLI process `pid`: containers labelled with it, harness processes carrying it, temp folders named for it. */
function leftovers(pid: number): string[] {
  const owner = `${os.hostname()}:${pid}`;
  const containers = spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'ps', '-a', '-q', '--filter', `label=airflow-runtime.owner=${owner}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const processes: string[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`AIRFLOW_RUNTIME_OWNER=${owner}`)) processes.push(`process ${entry}`);
    } catch {
      // gone, or not readable
    }
  }
  const temp = readdirSync(os.tmpdir()).filter((name) => new RegExp(`^airflow-runtime-[a-z]+-${pid}-`).test(name));
  return [...containers.map((c) => `container ${c}`), ...processes, ...temp.map((t) => `temp folder ${t}`)];
}

/** Until what `pid` started is up (a running container or a harness process of its own), then a moment for the DAG file to start. */
async function untilStarted(pid: number, engine: 'docker' | 'local'): Promise<void> {
  const owner = `${os.hostname()}:${pid}`;
  for (let i = 0; i < 600; i++) {
    const up = engine === 'docker'
      ? spawnSync('docker', ['ps', '-q', '--filter', `label=airflow-runtime.owner=${owner}`], { encoding: 'utf8' }).stdout.trim() !== ''
      : leftovers(pid).some((l) => l.startsWith('process'));
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 4000)); // Airflow's import, then the DAG file's sleep
}

async function untilGone(pid: number, withinMs: number): Promise<string[]> {
  const until = Date.now() + withinMs;
  let left = leftovers(pid);
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    left = leftovers(pid);
  }
  return left;
}

describe('Ctrl-C and SIGTERM leave nothing behind', { ...real, timeout: 600_000 }, () => {
  const cases: Array<{ name: string; args: string[] }> = [
    { name: 'a warm parse', args: ['parse', 'dags'] },
    { name: 'a cold parse', args: ['parse', 'dags', '--cold'] },
    { name: 'a run', args: ['run', 'dags/tasks.py', 'tasks', 'hang'] },
  ];
  for (const engine of ['docker', 'local'] as const) {
    for (const { name, args } of cases) {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        it(`${signal} during ${name} on ${engine}`, async () => {
          const ws = hangingWorkspace();
          const run = start([...args, '--engine', engine], ws);
          await untilStarted(run.child.pid!, engine);
          assert.notDeepEqual(leftovers(run.child.pid!), [], `nothing was started: ${run.output()}`);
          run.child.kill(signal);
          const code = await run.exited;
          assert.equal(code, 2, run.output());
          assert.match(run.output(), /cancelling: stopping the (parse|task) and cleaning up/);
          assert.deepEqual(leftovers(run.child.pid!), [], `left behind after ${signal}:\n${run.output()}`);
        });
      }
    }
  }
});

describe('a warm runtime ends with its owner, however the owner ends', { ...real, timeout: 300_000 }, () => {
  for (const engine of ['docker', 'local'] as const) {
    it(`kill -9 of the CLI during a warm parse on ${engine}`, async () => {
      const ws = hangingWorkspace();
      const run = start(['parse', 'dags', '--engine', engine], ws);
      await untilStarted(run.child.pid!, engine);
      run.child.kill('SIGKILL');
      await run.exited;
      assert.deepEqual(await untilGone(run.child.pid!, 20_000), [], 'still there 20 s after kill -9 of its owner');
    });
  }

  it('kill -9 of the CLI during a local run ends the task and what it started', async () => {
    const ws = hangingWorkspace();
    const run = start(['run', 'dags/tasks.py', 'tasks', 'hang', '--engine', 'local'], ws);
    await untilStarted(run.child.pid!, 'local');
    run.child.kill('SIGKILL');
    await run.exited;
    assert.deepEqual(await untilGone(run.child.pid!, 20_000), []);
  });
});

describe('a daemon a DAG file double-forks at import', { ...real, timeout: 120_000 }, () => {
  for (const mode of [[], ['--cold']]) {
    it(`is gone after a local ${mode.length ? 'cold' : 'warm'} parse`, async () => {
      const marker = `${Date.now() % 100000}${process.pid}`.slice(0, 9);
      const ws = scratchWorkspace('lifecycle', {
        'dags/airflow-runtime.yaml': `local:\n  python: ${venvPython(VERSION)}\n`,
        'dags/daemon.py': [
          'import os, time', 'from airflow import DAG', 'if os.fork() == 0:', '    os.setsid()', '    if os.fork() == 0:',
          `        os.execvp("sleep", ["sleep", "${marker}"])`, '    os._exit(0)', 'time.sleep(0.3)', '',
        ].join('\n'),
      });
      const { code, stderr } = await cli(['parse', 'dags', '--engine', 'local', ...mode], { cwd: ws });
      assert.equal(code, 0, stderr);
      await new Promise((r) => setTimeout(r, 300));
      const survivors = spawnSync('pgrep', ['-f', `^sleep ${marker}$`], { encoding: 'utf8' }).stdout.trim();
      assert.equal(survivors, '', `the daemon survived the parse: pid ${survivors}`);
    });
  }
});

describe('cleanup touches only what is ours and whose owner is gone', { ...real, timeout: 120_000 }, () => {
  it('keeps other hosts\' and users\' containers and live owners\'; --dry-run removes nothing', async () => {
    const me = os.userInfo().username;
    const make = (owner: string, user?: string) => spawnSync('docker', ['create', '--label', 'airflow-runtime.managed=true', '--label', `airflow-runtime.owner=${owner}`,
      ...(user ? ['--label', `airflow-runtime.user=${user}`] : []), '--label', 'airflow-runtime.dag-file=/lifecycle-test/leftover.py', image(VERSION), 'true'], { encoding: 'utf8' }).stdout.trim();
    const orphan = make(`${os.hostname()}:999999999`, me);
    const live = make(`${os.hostname()}:${process.pid}`, me);
    const otherHost = make(`another-machine-${process.pid}:${process.pid}`, me);
    const otherUser = make(`${os.hostname()}:999999998`, `someone-else-${process.pid}`);
    const legacy = make(`${os.hostname()}:999999997`); // written before the user label: whose is not known
    const temp = path.join(os.tmpdir(), `airflow-runtime-parse-999999999-lifecycle${process.pid}`);
    mkdirSync(temp, { recursive: true });
    try {
      const dry = await cli(['cleanup', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`^would remove container ${orphan.slice(0, 12)} `, 'm'));
      assert.match(dry.stdout, new RegExp(`^would remove temp folder ${temp} \\(project not recorded, \\d+ s old, owner pid 999999999 gone\\)$`, 'm'));
      const listed = spawnSync('docker', ['ps', '-a', '-q', '--no-trunc', '--filter', 'label=airflow-runtime.dag-file=/lifecycle-test/leftover.py'], { encoding: 'utf8' }).stdout;
      for (const id of [orphan, live, otherHost, otherUser, legacy]) assert.ok(listed.includes(id), `--dry-run removed ${id}`);

      const { code, stdout } = await cli(['cleanup']);
      assert.equal(code, 0);
      assert.match(stdout, new RegExp(`^removed container ${orphan.slice(0, 12)} `, 'm'));
      assert.match(stdout, new RegExp(`^removed temp folder ${temp} \\(project not recorded, \\d+ s old, owner pid 999999999 gone\\)$`, 'm'));
      for (const kept of [live, otherHost, otherUser, legacy]) assert.doesNotMatch(stdout, new RegExp(kept.slice(0, 12)));
      const after = spawnSync('docker', ['ps', '-a', '-q', '--no-trunc', '--filter', 'label=airflow-runtime.dag-file=/lifecycle-test/leftover.py'], { encoding: 'utf8' }).stdout;
      assert.ok(!after.includes(orphan));
      for (const kept of [live, otherHost, otherUser, legacy]) assert.ok(after.includes(kept));
    } finally {
      spawnSync('docker', ['rm', '-f', orphan, live, otherHost, otherUser, legacy]);
      spawnSync('rm', ['-rf', temp]);
    }
  });
});

/** Output of ours that would be a stack trace: "    at fn (file:line)" lines, or the word "internal". */
function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, text);
  assert.doesNotMatch(text, /internal error|Traceback \(most recent call last\)/, text);
}

describe('bad input gets a located message, exit 2, and the other files are parsed', { ...real, timeout: 300_000 }, () => {
  const base = `image: ${image(VERSION)}\npull: never\nlocal:\n  python: ${venvPython(VERSION)}\n`;
  const withBadFolder = (files: Record<string, string>) => scratchWorkspace('lifecycle', {
    'dags/airflow-runtime.yaml': base, 'dags/good.py': 'from airflow import DAG\n', 'dags/bad/broken.py': 'from airflow import DAG\n', ...files,
  });
  const parseBoth = async (ws: string, extra: string[] = []) => {
    const result = await cli(['parse', 'dags', '--engine', 'local', ...extra], { cwd: ws });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /^dags\/good\.py: ok/m, 'the other file was parsed');
    assert.match(result.stderr, /^dags\/bad\/broken\.py: not parsed: fix the errors of its runtime files \(above\) first$/m);
    assertNoStackTrace(result.stdout + result.stderr);
    return result;
  };

  it('a runtime file that is a folder', async () => {
    const ws = withBadFolder({ 'dags/bad/airflow-runtime.yaml/keep': '' });
    const { stdout } = await parseBoth(ws);
    assert.match(stdout, /^dags\/bad\/airflow-runtime\.yaml:1:1: error: this runtime file is a folder, not a file/m);
  });

  it('an unreadable runtime file (as a user who may not read it)', async () => {
    const ws = withBadFolder({ 'dags/bad/airflow-runtime.yaml': 'image: x\n' });
    chmodSync(path.join(ws, 'dags/bad/airflow-runtime.yaml'), 0o000);
    if (process.getuid?.() !== 0) {
      const { stdout } = await parseBoth(ws);
      assert.match(stdout, /airflow-runtime\.yaml:1:1: error: this runtime file cannot be read \(permission denied\)/);
      return;
    }
    // root reads everything: run the CLI as nobody, over a workspace nobody may enter
    spawnSync('chmod', ['-R', 'a+rX', ws]);
    chmodSync(path.join(ws, 'dags/bad/airflow-runtime.yaml'), 0o000);
    const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'validate', 'dags/bad/airflow-runtime.yaml'], { cwd: ws, encoding: 'utf8' });
    assert.equal(result.status, 2, result.stdout + result.stderr);
    assert.match(result.stdout, /^dags\/bad\/airflow-runtime\.yaml:1:1: error: this runtime file cannot be read \(permission denied\)/m);
    assertNoStackTrace(result.stdout + result.stderr);
  });

  it('an envFile with a NUL byte, never echoed', async () => {
    const ws = withBadFolder({ 'dags/bad/airflow-runtime.yaml': 'envFile: /proc/self/environ\n' });
    // outside the workspace: refused as such (isolation.test.ts); allowed, it is still not a text file
    const { stdout, stderr } = await parseBoth(ws, ['--allow-host-access']);
    assert.match(stdout, /^dags\/bad\/airflow-runtime\.yaml:1:10: error: envFile "\/proc\/self\/environ" holds binary data \(a NUL byte\)/m);
    assert.doesNotMatch(stdout + stderr, /PATH=|HOME=/, 'the file\'s content was echoed');
  });

  it('a build context that is the whole disk is refused before it is walked', async () => {
    const ws = withBadFolder({ 'dags/bad/airflow-runtime.yaml': 'build:\n  context: /\n' });
    const started = Date.now();
    const { stdout } = await parseBoth(ws);
    assert.match(stdout, /^dags\/bad\/airflow-runtime\.yaml:2:12: error: build context "\/" is the root of the disk/m);
    assert.ok(Date.now() - started < 60_000);
  });

  it('a runtime file nested 20,000 levels deep', async () => {
    const ws = withBadFolder({ 'dags/bad/airflow-runtime.yaml': `env: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n` });
    const { stdout } = await parseBoth(ws);
    assert.match(stdout, /airflow-runtime\.yaml:1:\d+: error: nested more than 64 levels deep/);
    assert.doesNotMatch(stdout, /Maximum call stack/);
  });

  it('a 10 MB runtime file with 96,000 keys is refused by its size', async () => {
    const ws = withBadFolder({ 'dags/bad/airflow-runtime.yaml': Array.from({ length: 96_000 }, (_, i) => `key_${i}: ${'v'.repeat(90)}`).join('\n') });
    const started = Date.now();
    const { stdout } = await parseBoth(ws);
    assert.match(stdout, /^dags\/bad\/airflow-runtime\.yaml:1:1: error: this runtime file is 9\.\d MB: runtime files are at most 256 KB/m);
    assert.ok(Date.now() - started < 60_000, 'it was read anyway');
  });

  it('a runtime file with a syntax error stops the files it applies to (no built-in default image)', async () => {
    const ws = withBadFolder({ 'dags/bad/airflow-runtime.yaml': 'image: [unclosed\n' });
    const { stdout, stderr } = await parseBoth(ws);
    assert.match(stdout, /^dags\/bad\/airflow-runtime\.yaml:\d+:\d+: error: /m);
    assert.doesNotMatch(stdout + stderr, /apache\/airflow/);
  });

  it('a DAG file that calls os._exit at import gets an import error at its line', async () => {
    const ws = scratchWorkspace('lifecycle', { 'dags/airflow-runtime.yaml': base, 'dags/exits.py': 'import os\nfrom airflow import DAG\nos._exit(0)\n' });
    for (const engine of ['local', 'docker']) {
      const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', engine], { cwd: ws });
      assert.equal(code, 1, stderr);
      assert.match(stdout, /^dags\/exits\.py:3:1: error: SystemExit: the DAG file's code ended the parsing process \(os\._exit\(0\)\)/m);
      assertNoStackTrace(stdout + stderr);
    }
  });

  it('a DAG file that kills its parent at import: said as such, and the other files are parsed (warm and cold)', async () => {
    const ws = scratchWorkspace('lifecycle', {
      'dags/airflow-runtime.yaml': base, 'dags/good.py': 'from airflow import DAG\n',
      'dags/killer.py': 'import os, signal\nfrom airflow import DAG\nos.kill(os.getppid(), signal.SIGKILL)\n',
    });
    for (const mode of [[], ['--cold']]) {
      const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', 'local', ...mode], { cwd: ws });
      assert.equal(code, 2, stderr);
      assert.match(stderr, /^dags\/good\.py: ok/m);
      assert.match(stderr, /^dags\/killer\.py: not parsed: .*the harness was killed \(SIGKILL\) while the DAG file's code ran/m);
      assert.doesNotMatch(stderr, /Airflow 2\.9\+/);
      assertNoStackTrace(stdout + stderr);
    }
  });

  it('run of a task that does not exist says so once', async () => {
    const ws = hangingWorkspace();
    for (const engine of ['local', 'docker']) {
      const { code, stdout, stderr } = await cli(['run', 'dags/tasks.py', 'tasks', 'nope', '--engine', engine], { cwd: ws });
      assert.equal(code, 2);
      const said = (stdout + stderr).match(/task 'nope' not found in DAG 'tasks'/g) ?? [];
      assert.equal(said.length, 1, stdout + stderr);
      assertNoStackTrace(stdout + stderr);
    }
  });
});
