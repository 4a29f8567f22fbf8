/**
 * `airflow-runtime up` / `down` from the built CLI (dist/cli.js) on a project with two Airflow 3 runtimes (the
 * 3.3.2 test image and team A's image built on it): its @once DAGs run by themselves to success, each parsed in
 * its own runtime's processor (and, with the container executor, run in its own image); `down` leaves no
 * container, network or process of the deployment and keeps its volumes; a second `up` has the run history and
 * stops on Ctrl-C; `up` on an Airflow 2 runtime is refused with exit 2 before anything starts.
 *
 * The project is copied to a folder unique to the run, so its deployment id (and every label, network and volume
 * name) is this run's own; whatever is left on failure is removed by that id.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deploymentId } from '../../src/core/deploy/plan';
import { Api, freePort, log, needs, scratch, waitFor } from './deployment';

const CLI = path.join(__dirname, '../../dist/cli.js');
const PROJECT = path.join(__dirname, 'up-project');
const IMAGES = ['airflow-runtime-test/airflow:3.3.2', 'airflow-runtime-test/team-a:3.3.2'];
const DEPLOYMENT_LABEL = 'airflow-runtime.deployment';

function missing(): string | undefined {
  const inspect = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', ...IMAGES], { encoding: 'utf8' });
  if (inspect.error) return `no docker client: ${inspect.error.message}`;
  if (inspect.status !== 0) return `Docker engine or the test images missing (run scripts/env/setup.sh): ${inspect.stderr.trim().split('\n')[0]}`;
  return undefined;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** The CLI to its end, its output kept (and shown as it comes, prefixed, for a person reading CI's log). */
function cli(args: string[], cwd: string): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => {
      log(`airflow-runtime ${args.join(' ')} -> ${code} in ${((Date.now() - started) / 1000).toFixed(1)} s\n${stdout}${stderr.split('\n').filter((l) => !l.startsWith('  Step')).join('\n')}`);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
const leftovers = (id: string) => ({
  containers: docker(['ps', '-aq', '--filter', `label=${DEPLOYMENT_LABEL}=${id}`]),
  networks: docker(['network', 'ls', '-q', '--filter', `label=${DEPLOYMENT_LABEL}=${id}`]),
  volumes: docker(['volume', 'ls', '-q', '--filter', `label=${DEPLOYMENT_LABEL}=${id}`]),
});
/** Our processes still running for this project (a detached `up` must not leave one). */
const processesOf = (project: string) => spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(project) && l.includes('cli.js'));

interface DagRun { dag_run_id: string; state: string }

/** A DAG file whose third line fails in every image. */
const BROKEN = ['# Cannot be imported.', 'from airflow.sdk import dag', 'import not_installed_anywhere  # noqa', ''].join('\n');

describe('airflow-runtime up and down', needs(missing()), () => {
  let project: string;
  let airflow2: string;
  let id: string;
  let port: number;

  before(() => {
    const dir = scratch();
    airflow2 = path.join(dir, 'airflow2');
    project = path.join(dir, 'project');
    cpSync(PROJECT, project, { recursive: true });
    id = deploymentId(project);
  });

  // Ctrl-C on the test run (deployment.ts exits from its signal handler, before after()): the exit still removes it
  process.once('exit', () => removeLeftovers());
  after(() => removeLeftovers());

  function removeLeftovers(): void {
    if (!project) return;
    // on success `down --volumes` removed all of it; on failure, `down` and then this run's id find what is left
    spawnSync(process.execPath, [CLI, 'down', '--volumes'], { cwd: project, encoding: 'utf8' });
    const left = leftovers(id);
    if (left.containers.length) spawnSync('docker', ['rm', '-f', '-v', ...left.containers]);
    for (const network of left.networks) spawnSync('docker', ['network', 'rm', network]);
    if (left.volumes.length) spawnSync('docker', ['volume', 'rm', '-f', ...left.volumes]);
  }

  /** Both @once DAGs parsed in their own processors and run to success (in their own images with the container executor). */
  async function runsByThemselves(upStderr: string): Promise<void> {
    const containerExecutor = !/LocalExecutor/.test(upStderr);
    const api = new Api(`http://127.0.0.1:${port}`);
    const token = await api.get<{ access_token: string }>('/auth/token');
    assert.ok(token.access_token, 'GET /auth/token gives a token without a login');
    const dags = await waitFor('both DAGs parsed', 5 * 60_000, async () => {
      const { dags: found } = await api.get<{ dags: { dag_id: string; tags: { name: string }[] }[] }>('/api/v2/dags?limit=100');
      return found.length >= 2 ? found : undefined;
    });
    const tags = Object.fromEntries(dags.map((d) => [d.dag_id, d.tags.map((t) => t.name)]));
    assert.deepEqual(tags.up_team_a, ['parsed-in:team-a'], 'team A\'s DAG is parsed in team A\'s image');
    assert.deepEqual(tags.up_plain, ['parsed-in:no-marker'], 'the plain DAG is parsed in the plain image');
    const { import_errors: errors } = await api.get<{ import_errors: unknown[] }>('/api/v2/importErrors');
    assert.deepEqual(errors, []);

    for (const dagId of ['up_plain', 'up_team_a']) {
      const run = await waitFor(`${dagId}'s @once run to finish`, 8 * 60_000, async () => {
        const { dag_runs: runs } = await api.get<{ dag_runs: DagRun[] }>(`/api/v2/dags/${dagId}/dagRuns`);
        return runs.find((r) => r.state === 'success' || r.state === 'failed');
      });
      const route = `/api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(run.dag_run_id)}/taskInstances/where`;
      const logText = await api.taskLog(`${route}/logs/1?full_content=true`).catch((e: Error) => e.message);
      assert.equal(run.state, 'success', `${dagId}: ${logText.slice(-3000)}`);
      if (containerExecutor) {
        const { value } = await api.get<{ value: unknown }>(`${route}/xcomEntries/return_value`);
        assert.equal(value, dagId === 'up_team_a' ? 'team-a' : 'no-marker', `${dagId} ran in its own image`);
      }
    }
  }

  it('refuses Airflow 2 runtimes with exit 2, naming the per-image Celery mode, and starts nothing', async () => {
    const old = airflow2;
    mkdirSync(path.join(old, 'dags'), { recursive: true });
    mkdirSync(path.join(old, 'plugins'));
    writeFileSync(path.join(old, 'dags', 'airflow-runtime.yaml'), 'image: airflow-runtime-test/airflow:2.11.2\npull: never\n');
    writeFileSync(path.join(old, 'dags', 'old.py'), 'from airflow import DAG\nwith DAG("old", schedule=None):\n    pass\n');
    const ran = await cli(['up', old, '--port', String(await freePort())], old);
    assert.equal(ran.code, 2, ran.stderr);
    assert.match(ran.stderr, /Airflow 3 only/);
    assert.match(ran.stderr, /airflow-runtime-test\/airflow:2\.11\.2/);
    assert.match(ran.stderr, /per-image Celery mode/);
    assert.doesNotMatch(ran.stderr, /^\s+at /m, 'no stack trace of ours');
    assert.deepEqual(leftovers(deploymentId(old)), { containers: [], networks: [], volumes: [] });
  });

  it('runs the project\'s @once DAGs by themselves to success, each parsed (and run) in its own image; down leaves nothing running', { timeout: 25 * 60_000 }, async () => {
    port = await freePort();
    const up = await cli(['up', '.', '--port', String(port), '--detach'], project);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`UI answering at http://127\\.0\\.0\\.1:${port}`));
    for (const part of ['database', 'API server', 'scheduler', 'triggerer', 'DAG processor of plain/', 'DAG processor of team_a/']) assert.match(up.stdout, new RegExp(`up: ${part}`), part);
    log(`up --detach: ${up.seconds.toFixed(1)} s (images ${/building/.test(up.stderr) ? 'built now: cold' : 'there: warm'})`);
    assert.deepEqual(processesOf(project), [], 'the detached up has no process left');

    try {
      await runsByThemselves(up.stderr);
    } catch (error) {
      await cli(['down', '.'], project); // the next test starts from a stopped deployment either way
      throw error;
    }

    const down = await cli(['down', '.'], project);
    assert.equal(down.code, 0, down.stderr);
    const left = leftovers(id);
    assert.deepEqual({ containers: left.containers, networks: left.networks }, { containers: [], networks: [] });
    assert.equal(left.volumes.length, 2, 'the database and logs volumes are kept');
    assert.deepEqual(processesOf(project), []);
  });

  it('keeps the run history for a second up, streams a DAG processor\'s import error at its line, and Ctrl-C stops and removes it', { timeout: 15 * 60_000 }, async () => {
    // a DAG file only the second up sees: its processor's import error is printed where it is
    writeFileSync(path.join(project, 'dags', 'plain', 'broken.py'), BROKEN);
    const child = spawn(process.execPath, [CLI, 'up', '--port', String(port)], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitFor('the second up to be running', 10 * 60_000, () => (/Ctrl-C stops it/.test(stdout) ? true : undefined), () => {
        if (child.exitCode !== null) throw new Error(`up exited ${child.exitCode}:\n${stdout}${stderr}`);
      });
      const api = new Api(`http://127.0.0.1:${port}`);
      for (const dagId of ['up_plain', 'up_team_a']) {
        const { dag_runs: runs } = await api.get<{ dag_runs: DagRun[] }>(`/api/v2/dags/${dagId}/dagRuns`);
        assert.ok(runs.some((r) => r.state === 'success'), `${dagId}'s first run is still there: ${JSON.stringify(runs)}`);
      }
      const importError = /^dags\/plain\/broken\.py:3:1: error: ModuleNotFoundError: No module named 'not_installed_anywhere'/m;
      await waitFor('the import error of dags/plain/broken.py in the output of up', 3 * 60_000, () => (importError.test(stdout) ? true : undefined), () => {
        if (child.exitCode !== null) throw new Error(`up exited ${child.exitCode}:\n${stdout}${stderr}`);
      });
    } finally {
      child.kill('SIGINT');
    }
    const code = await exited;
    log(`up (second) output:\n${stdout}${stderr}`);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /stopped: \d+ containers and 2 networks removed/);
    const left = leftovers(id);
    assert.deepEqual({ containers: left.containers, networks: left.networks }, { containers: [], networks: [] });

    const down = await cli(['down', '--volumes'], project);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(leftovers(id), { containers: [], networks: [], volumes: [] });
  });
});
