/**
 * The embedded default, for real: a project whose runtime names only `apache/airflow:2.11.2` (an image no engine
 * here has and no registry here serves) parses and runs a task on the local emulator with Airflow 2.11.2, with
 * Docker reachable and with Docker away, and says why; `--engine docker` keeps Docker's error, reduced to its cause.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createServer } from 'node:net';
import { cli, dockerProblem, needs, scratchWorkspace } from './support';

const IMAGE = 'apache/airflow:2.11.2';

/** A loopback port nothing listens on: DOCKER_HOST there is an engine that is away. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
const DAG = [
  'from datetime import datetime', 'import airflow', 'from airflow import DAG', 'from airflow.operators.bash import BashOperator', '',
  'with DAG("hello", start_date=datetime(2024, 1, 1), schedule=None):',
  '    BashOperator(task_id="say", bash_command="echo version=$AIRFLOW_VERSION_SEEN")', '',
  'print("airflow", airflow.__version__)', '',
].join('\n');

/** The test needs the image to be absent, as on a machine without the team's registry. */
function imageAbsent(): string | undefined {
  const here = spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'image', 'inspect', IMAGE], { encoding: 'utf8' });
  return here.status === 0 ? `${IMAGE} is on this engine: this test is about an image that cannot be had` : undefined;
}

describe('the embedded default', { ...needs(dockerProblem(), imageAbsent()), timeout: 600_000 }, () => {
  const ws = scratchWorkspace('embedded', { 'dags/airflow-runtime.yaml': `image: ${IMAGE}\nenv:\n  AIRFLOW_VERSION_SEEN: from-the-runtime-file\n`, 'dags/hello.py': DAG });

  it('with Docker reachable: the parse and a task run on a local Airflow 2.11.2, and the CLI says why', async () => {
    const parsed = await cli(['parse', 'dags', '--format', 'json'], { cwd: ws });
    assert.equal(parsed.code, 0, parsed.stderr);
    assert.match(parsed.stderr, /^engine: embedded default: apache\/airflow:2\.11\.2 cannot be had here \((no registry can be reached from here|the registry has no such image)\): using a local Airflow 2\.11\.2$/m);
    const [result] = JSON.parse(parsed.stdout);
    assert.equal(result.airflowVersion, '2.11.2');
    assert.deepEqual(result.dags.map((d: { dagId: string }) => d.dagId), ['hello']);
    assert.equal(result.engine.kind, 'local');
    const run = await cli(['run', 'dags/hello.py', 'hello', 'say'], { cwd: ws });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout + run.stderr, /version=from-the-runtime-file/);
    assert.match(run.stderr, /^engine: embedded default: /m);
  });

  it('with Docker away: the same local Airflow, said as such', async () => {
    const closed = `tcp://127.0.0.1:${await closedPort()}`;
    const parsed = await cli(['parse', 'dags'], { cwd: ws, env: { DOCKER_HOST: closed } });
    assert.equal(parsed.code, 0, parsed.stderr);
    assert.match(parsed.stderr, /^engine: local runtime emulator.*Docker is not reachable/m);
    assert.match(parsed.stderr, /^engine: embedded default: a local Airflow 2\.11\.2 \(from the tag of apache\/airflow:2\.11\.2\)/m);
    assert.match(parsed.stderr, /dags\/hello\.py: ok: hello \(1 task\) \[airflow 2\.11\.2/);
    const doctor = await cli(['doctor'], { cwd: ws, env: { DOCKER_HOST: closed } });
    assert.equal(doctor.code, 0, doctor.stdout);
    assert.match(doctor.stdout, /^OK +runtime apache\/airflow:2\.11\.2 \(1 DAG file\): local runtime emulator: the embedded default, a local Airflow 2\.11\.2/m);
    assert.doesNotMatch(doctor.stdout, /--engine local/, 'doctor suggests only what would work');
  });

  it('--engine docker turns it off: Docker\'s error, its cause first, exit 2', async () => {
    const parsed = await cli(['parse', 'dags', '--engine', 'docker'], { cwd: ws });
    assert.equal(parsed.code, 2, parsed.stderr);
    assert.match(parsed.stderr, /cannot pull apache\/airflow:2\.11\.2: (no registry can be reached from here|the registry has no such image) \(Docker: /);
    assert.doesNotMatch(parsed.stderr, /embedded default/);
  });
});
