/**
 * The engines through the built CLI, as a user runs them, against a real Docker engine and real Airflow
 * (images and venvs from scripts/env). Missing pieces skip loudly, or fail under AIRFLOW_RUNTIME_REQUIRE_REAL=1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const REPO = path.resolve(__dirname, '../..');
const CLI = path.join(REPO, 'dist/cli.js');
const EXAMPLES = path.join(REPO, 'examples');
const WORKSPACE = path.join(__dirname, 'workspace');
const REQUIRE_REAL = process.env.AIRFLOW_RUNTIME_REQUIRE_REAL === '1';
const HANG_MARKER = 'airflow-runtime-hang-marker';

function dockerProblem(): string | undefined {
  const info = spawnSync('docker', ['image', 'inspect', 'airflow-runtime-test/airflow:2.11.2', 'airflow-runtime-test/airflow:3.3.2'], { encoding: 'utf8' });
  if (info.error) return `no docker client: ${info.error.message}`;
  if (info.status !== 0) return `Docker engine or test images missing (run scripts/env/docker.sh and scripts/env/images.sh): ${info.stderr.trim().split('\n')[0]}`;
  return undefined;
}

/** Skips loudly where the real component is missing; fails instead when CI requires the real thing. */
function needs(problem: string | undefined): { skip?: string } {
  if (!problem) return {};
  if (REQUIRE_REAL) throw new Error(`required for this test run: ${problem}`);
  console.warn(`\n!!! SKIPPING engine tests: ${problem}\n`);
  return { skip: problem };
}

const docker = needs(dockerProblem());

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? EXAMPLES, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Processes whose command line carries the marker, on this machine (containers' processes included). */
/**
 * Processes whose command line has `marker` and that are this test's: the command line, environment or working
 * folder names `scope` (other work on this machine may run harness servers of its own).
 */
function processesWith(marker: string, scope?: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!cmdline.includes(marker)) continue;
      const ours = !scope || cmdline.includes(scope) || readFileSync(`/proc/${pid}/environ`, 'utf8').includes(scope) || `${readlinkSync(`/proc/${pid}/cwd`)}/`.startsWith(`${scope}/`);
      if (ours) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone
    }
  }
  return found;
}

function ourContainers(): string[] {
  const out = spawnSync('docker', ['ps', '-a', '--filter', 'label=airflow-runtime.managed=true', '--format', '{{.ID}} {{.Labels}}'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.includes(WORKSPACE) || l.includes(EXAMPLES));  // warm containers are labelled warm:<dag root>
}

interface Summary { dagId: string; line: number | null; tasks: Record<string, { line: number | null; upstream: string[]; mapped: boolean; group: string | null }> }

function summarize(results: { file: string; dags: { dagId: string; line: number | null; tasks: { taskId: string; line: number | null; upstream: string[]; mapped: boolean; taskGroup: string | null }[] }[] }[]): Record<string, Summary[]> {
  return Object.fromEntries(results.map((r) => [path.relative(EXAMPLES, r.file), r.dags.map((d) => ({
    dagId: d.dagId, line: d.line,
    tasks: Object.fromEntries(d.tasks.map((t) => [t.taskId, { line: t.line, upstream: t.upstream, mapped: t.mapped, group: t.taskGroup }])),
  }))]));
}

const EXPECTED_EXAMPLES = {
  'dags/team_a/customer_metrics.py': [{
    dagId: 'customer_metrics', line: 7,
    tasks: {
      fetch_customers: { line: 9, upstream: [], mapped: false, group: null },
      'metrics.count': { line: 15, upstream: ['fetch_customers'], mapped: false, group: 'metrics' },
      'metrics.longest_name': { line: 19, upstream: ['fetch_customers'], mapped: false, group: 'metrics' },
      publish: { line: 25, upstream: ['metrics.count', 'metrics.longest_name'], mapped: false, group: null },
    },
  }],
  'dags/team_a/orders_etl.py': [{
    dagId: 'orders_etl', line: 14,
    tasks: {
      start: { line: 22, upstream: [], mapped: false, group: null },
      extract: { line: 23, upstream: ['start'], mapped: false, group: null },
      transform: { line: 24, upstream: ['extract'], mapped: false, group: null },
      load: { line: 25, upstream: ['transform'], mapped: false, group: null },
    },
  }],
  'dags/team_b/inventory_sync.py': [],
  'dags/team_b/regional_reports.py': [{
    dagId: 'regional_reports', line: 7,
    tasks: {
      list_regions: { line: 9, upstream: [], mapped: false, group: null },
      build_report: { line: 13, upstream: ['list_regions'], mapped: true, group: null },
      notify: { line: 18, upstream: ['build_report'], mapped: false, group: null },
    },
  }],
};

for (const engine of ['docker', 'local'] as const) {
  describe(`parse the examples with the ${engine} engine`, docker, () => {
    it('the default, warm, gives the same results, and leaves no server behind', async () => {
      const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', engine, '--format', 'json']);
      assert.equal(code, 1, stderr);
      assert.deepEqual(summarize(JSON.parse(stdout)), EXPECTED_EXAMPLES);
      assert.match(stderr, /, warm/);
      assert.deepEqual(ourContainers(), []);
      assert.deepEqual(processesWith('airflow_runtime_harness serve', EXAMPLES), []);
    });

    it('--cold finds every DAG and task at its line, with host paths, in Airflow 2 and 3', async () => {
      const { code, stdout, stderr } = await cli(['parse', 'dags', '--engine', engine, '--format', 'json', '--cold']);
      assert.equal(code, 1, `one example fails to import\n${stderr}`);
      const results = JSON.parse(stdout);
      assert.deepEqual(summarize(results), EXPECTED_EXAMPLES);
      const versions = Object.fromEntries(results.map((r: { file: string; airflowVersion: string }) => [path.relative(EXAMPLES, r.file), r.airflowVersion]));
      assert.deepEqual(versions, {
        'dags/team_a/customer_metrics.py': '2.11.2', 'dags/team_a/orders_etl.py': '2.11.2',
        'dags/team_b/inventory_sync.py': '3.3.2', 'dags/team_b/regional_reports.py': '3.3.2',
      });
      const broken = results.find((r: { file: string }) => r.file.endsWith('inventory_sync.py'));
      assert.deepEqual(broken.importErrors.map((e: { file: string; line: number; message: string }) => [e.file, e.line, e.message]), [
        [path.join(EXAMPLES, 'dags/team_b/inventory_sync.py'), 6, "ModuleNotFoundError: No module named 'pandas'"],
      ]);
      assert.ok(!broken.importErrors[0].traceback.includes('/opt/airflow/dags'), 'tracebacks name host paths');
    });

    it('prints problems as path:line:col and a summary', async () => {
      const { code, stdout, stderr } = await cli(['parse', 'dags/team_b', '--engine', engine]);
      assert.equal(code, 1);
      assert.equal(stdout, "dags/team_b/inventory_sync.py:6:1: error: ModuleNotFoundError: No module named 'pandas'\n");
      assert.match(stderr, new RegExp(`^engine: ${engine === 'docker' ? 'docker at unix://' : 'local runtime emulator'}`, 'm'));
      assert.match(stderr, /^dags\/team_b\/regional_reports\.py: ok: regional_reports \(3 tasks\) \[airflow 3\.3\.2, /m);
      assert.match(stderr, /^2 files: 1 DAG, 3 tasks, 1 with problems$/m);
    });
  });
}

describe('run a task with the docker engine', docker, () => {
  it('streams the log and exits 0 when the task succeeds, with Variables from the runtime env', async () => {
    const { code, stdout, stderr } = await cli(['run', 'dags/tasks.py', 'engine_tasks', 'succeed', '--date', '2024-05-01'], { cwd: WORKSPACE });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /the task ran, variable=hello/);
    assert.match(stderr, /engine_tasks\.succeed: success/);
  });

  it('exits 1 with the traceback when the task fails', async () => {
    const { code, stdout } = await cli(['run', 'dags/tasks.py', 'engine_tasks', 'fail'], { cwd: WORKSPACE });
    assert.equal(code, 1);
    assert.match(stdout, /ValueError: this task fails on purpose/);
    assert.match(stdout, new RegExp(`${WORKSPACE.replace(/[/.]/g, '\\$&')}/dags/tasks\\.py", line 16`), 'traceback paths are host paths');
  });

  it('runs an Airflow 3 task of the examples', async () => {
    const { code, stderr } = await cli(['run', 'dags/team_b/regional_reports.py', 'regional_reports', 'list_regions']);
    assert.equal(code, 0, stderr);
  });

  it('Ctrl-C kills the task and its daemon, and removes the container', async () => {
    const child = spawn(process.execPath, [CLI, 'run', 'dags/tasks.py', 'engine_tasks', 'hang'], { cwd: WORKSPACE });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const started = new Promise<void>((resolve) => child.stdout.on('data', (c) => {
      stdout += c;
      if (stdout.includes('hang: started')) resolve();
    }));
    await started;
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(processesWith(HANG_MARKER).length > 0, 'the daemon runs before the cancel');
    const t0 = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 2, stderr);
    assert.ok(Date.now() - t0 < 15_000, 'cancel is quick');
    assert.match(stderr, /cancelled/);
    assert.deepEqual(processesWith(HANG_MARKER), []);
    assert.deepEqual(ourContainers(), []);
  });
});

describe('faults', docker, () => {
  it('an unreachable Docker endpoint: exit 2 naming it; auto falls back to local', async () => {
    const forced = await cli(['parse', 'dags/team_a/orders_etl.py', '--engine', 'docker'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.equal(forced.code, 2);
    assert.match(forced.stderr, /Docker is not reachable\. Tried:\n {2}tcp:\/\/127\.0\.0\.1:9 \(DOCKER_HOST\): /);
    assert.match(forced.stderr, /what to do: start Docker/);
    const auto = await cli(['parse', 'dags/team_a/orders_etl.py'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.match(auto.stderr, /^engine: local runtime emulator, warm: Docker is not reachable \(tcp:\/\/127\.0\.0\.1:9 \(DOCKER_HOST\)/m);
    assert.equal(auto.code, 0, auto.stderr);
  });

  it('a missing image with pull: never', async () => {
    const { code, stderr } = await cli(['parse', 'dags/missing_image.py', '--engine', 'docker'], { cwd: WORKSPACE });
    assert.equal(code, 2);
    assert.match(stderr, /image airflow-runtime-test\/not-built:0\.0 is not present and the runtime says pull: never/);
  });

  it('a pull that fails', async () => {
    const { code, stderr } = await cli(['parse', 'dags/pull_fails.py', '--engine', 'docker'], { cwd: WORKSPACE });
    assert.equal(code, 2);
    assert.match(stderr, /cannot pull registry\.invalid\/airflow:0: /);
    assert.match(stderr, /what to do: check the image name and your registry login/);
  });

  it('a memory limit that kills the parse', async () => {
    const { code, stderr } = await cli(['parse', 'dags/memory_hog.py', '--engine', 'docker', '--cold'], { cwd: WORKSPACE });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /the runtime ran out of memory \(limit 128m\) and was killed/);
  });

  it('a DAG that prints 100 MB: the output is capped and the result intact', async () => {
    const { code, stdout, stderr } = await cli(['parse', 'dags/loud.py', '--engine', 'docker', '--format', 'json'], { cwd: WORKSPACE });
    assert.equal(code, 0, stderr);
    const [result] = JSON.parse(stdout);
    assert.deepEqual(result.dags.map((d: { dagId: string }) => d.dagId), ['loud']);
    assert.ok(result.output.truncated);
    assert.ok(result.output.bytes >= 100 * 1024 * 1024);
    assert.ok(stdout.length < 2 * 1024 * 1024, 'the result does not carry the output');
  });

  it('a run past its deadline is killed', async () => {
    const { code, stderr } = await cli(['run', 'dags/slow.py', 'slow', 'sleep'], { cwd: WORKSPACE });
    assert.equal(code, 2);
    assert.match(stderr, /stopped after 5 s \(the runtime's timeout\); the container was killed/);
  });

  it('doctor says what is there', async () => {
    const { code, stdout } = await cli(['doctor']);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^OK {4}docker: unix:\/\/\/var\/run\/docker\.sock \(the default socket\)/m);
    assert.match(stdout, /^OK {4}runtime airflow-runtime-test\/airflow:3\.3\.2 \(2 DAG files\): image present$/m);
    const unreachable = await cli(['doctor'], { cwd: WORKSPACE, env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    // not a fix by itself: each runtime says whether the local emulator can run it, and only what would work is offered
    assert.match(unreachable.stdout, /^NOTE {2}docker: Docker is not reachable/m);
    assert.match(unreachable.stdout, /^OK {4}runtime airflow-runtime-test\/airflow:2\.11\.2 \(4 DAG files\): local runtime emulator: the embedded default, a local Airflow 2\.11\.2/m);
    assert.match(unreachable.stdout, /^FIX {3}runtime registry\.invalid\/airflow:0 \(1 DAG file\): local runtime emulator: the runtime names no Airflow version/m);
    assert.doesNotMatch(unreachable.stdout, /--engine local/);
    assert.equal(unreachable.code, 2, 'two runtimes of the test workspace name no Airflow version and have no interpreter');
  });

  // cleanup's scoping (users, machines, live owners, --dry-run) is tested in lifecycle.test.ts

  it('leaves no containers behind', () => {
    assert.deepEqual(ourContainers(), []);
  });
});
