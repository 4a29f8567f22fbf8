/**
 * npm run bench: how fast a parse is, against Airflow's own DagBag on the same files, in one run.
 * Writes bench-results/bench.md. Needs the Airflow venv and image from scripts/env.
 *
 * BENCH_AIRFLOW       Airflow version (default 2.11.2)
 * BENCH_FILES         generated DAG files (default 200)
 * BENCH_COLD_SAMPLE   files parsed cold, and by a fresh python (default 8)
 * BENCH_IDLE_SAMPLE   warm parses of one file after a pause (default 20)
 * BENCH_BEFORE_REV    a git revision whose harness is measured beside ours, in this run (default: none)
 * BENCH_ENGINES       engines to measure (default "local docker")
 * BENCH_BREAKDOWN_SAMPLE  files for the stage-by-stage breakdown (default 50)
 * BENCH_ONLY          "commands" (the CLI as typed, bench/commands.ts) or "engines" (the rest); default both
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { cacheDir } from '../src/core/engine/cache';
import { defaultJobs } from '../src/core/engine/capacity';
import { connectDocker } from '../src/core/engine/docker/connect';
import { DockerEngine } from '../src/core/engine/docker/dockerEngine';
import { hostHarnessDir } from '../src/core/harness/layout';
import { LocalEngine } from '../src/core/engine/local/localEngine';
import type { Engine } from '../src/core/engine/types';
import { commandBench } from './commands';
import { resolveRuntime } from '../src/core/runtime/resolve';

const VERSION = process.env.BENCH_AIRFLOW ?? '2.11.2';
const PYTHON = path.join(process.env.AIRFLOW_RUNTIME_ENV_CACHE ?? path.join(homedir(), '.cache/airflow-runtime-env'), `venvs/airflow-${VERSION}/bin/python`);
const IMAGE = `airflow-runtime-test/airflow:${VERSION}`;
const GENERATED = Number(process.env.BENCH_FILES ?? 200);
const COLD_SAMPLE = Number(process.env.BENCH_COLD_SAMPLE ?? 8);
const IDLE_SAMPLE = Number(process.env.BENCH_IDLE_SAMPLE ?? 20);
const IDLE_MS = 500;
const BREAKDOWN_SAMPLE = Number(process.env.BENCH_BREAKDOWN_SAMPLE ?? 50);
const BEFORE_REV = process.env.BENCH_BEFORE_REV;
const ENGINES = (process.env.BENCH_ENGINES ?? 'local docker').split(/\s+/);
/** What `airflow-runtime parse` does by default. */
const CLI_JOBS = defaultJobs();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A workspace with `dags/`: Airflow's example DAGs and a generated corpus of small DAG files. */
function corpus(): { root: string; examples: string[]; generated: string[] } {
  const root = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-bench-'));
  const dags = path.join(root, 'dags');
  mkdirSync(path.join(dags, 'generated'), { recursive: true });
  const site = spawnSync(PYTHON, ['-c', 'import airflow, os; print(os.path.dirname(airflow.__file__))'], { encoding: 'utf8' }).stdout.trim();
  const exampleDir = path.join(site, 'example_dags');
  spawnSync('cp', ['-r', exampleDir, path.join(dags, 'examples')]);
  const examples = readdirSync(path.join(dags, 'examples')).filter((f) => f.startsWith('example_') && f.endsWith('.py')).map((f) => path.join(dags, 'examples', f));
  const generated: string[] = [];
  for (let i = 0; i < GENERATED; i++) {
    const file = path.join(dags, 'generated', `generated_${String(i).padStart(3, '0')}.py`);
    writeFileSync(file, [
      'from datetime import datetime', 'from airflow import DAG', 'from airflow.operators.bash import BashOperator', '',
      `with DAG(dag_id="generated_${i}", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False, tags=["bench"]):`,
      ...Array.from({ length: 5 }, (_, t) => `    t${t} = BashOperator(task_id="step_${t}", bash_command="echo ${t}")`),
      '    t0 >> t1 >> t2 >> t3 >> t4', '',
    ].join('\n'));
    generated.push(file);
  }
  writeFileSync(path.join(root, 'airflow-runtime.yaml'), runtimeYaml());
  return { root, examples, generated };
}

function runtimeYaml(): string {
  return `image: ${IMAGE}\npull: never\nlocal:\n  python: ${PYTHON}\ntimeouts:\n  parse: 5m\n`;
}

function runtimeOf(root: string, file: string) {
  return resolveRuntime(file, { workspaceRoot: root, readText: (f) => (f === path.join(root, 'airflow-runtime.yaml') ? runtimeYaml() : undefined) });
}

/** One file after another, each timed from the request to the result. */
async function timeEach(engine: Engine, root: string, files: string[], pauseMs = 0): Promise<number[]> {
  const out: number[] = [];
  for (const file of files) {
    if (pauseMs) await sleep(pauseMs);
    const runtime = runtimeOf(root, file);
    const started = performance.now();
    await engine.parse({ dagFile: file, runtime });
    out.push(performance.now() - started);
  }
  return out;
}

/** All files the way `airflow-runtime parse` sends them: CLI_JOBS at once. Wall-clock ms. */
async function timeBatch(engine: Engine, root: string, files: string[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CLI_JOBS }, async () => {
    while (next < files.length) {
      const file = files[next++];
      await engine.parse({ dagFile: file, runtime: runtimeOf(root, file) });
    }
  }));
  return performance.now() - started;
}

interface WarmNumbers { seq: number[]; idle: number[]; batch: number }

/** A harness's `serve` driven directly (bench/serve_driver.py): no engine, no Node. */
function serveAlone(harness: string, root: string, files: string[]): WarmNumbers {
  const run = (mode: string, list: string[]) => {
    const out = mkdtempSync(path.join(tmpdir(), 'bench-serve-'));
    const text = execFileSync(PYTHON, [path.join(__dirname, 'serve_driver.py'), harness, cacheDir('harness'), path.join(root, 'dags'), out, mode, ...list],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(text.trim().split('\n').pop()!) as { times: number[]; wall: number };
  };
  return { seq: run('seq', files).times, idle: run('idle', files.slice(0, IDLE_SAMPLE)).times, batch: run('burst', files).wall };
}

async function warmNumbers(make: () => Engine, root: string, files: string[]): Promise<WarmNumbers & { firstMs: number }> {
  const engine = make();
  try {
    const [firstMs] = await timeEach(engine, root, [files[0]]);
    const seq = await timeEach(engine, root, files);
    const idle = await timeEach(engine, root, files.slice(0, IDLE_SAMPLE), IDLE_MS);
    const batch = await timeBatch(engine, root, files);
    return { seq, idle, batch, firstMs };
  } finally {
    await engine.dispose();
  }
}

function beforeHarness(rev: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-before-'));
  execFileSync('sh', ['-c', `git archive ${JSON.stringify(rev)} src/harness | tar -x -C ${JSON.stringify(dir)}`]);
  return path.join(dir, 'src', 'harness');
}

async function main(): Promise<void> {
  // The commands as typed first: they are what a user sees, and the longest.
  const commands = process.env.BENCH_ONLY === 'engines' ? [] : await commandBench();
  if (process.env.BENCH_ONLY === 'commands') {
    const text = commands.join('\n');
    console.log(text);
    mkdirSync('bench-results', { recursive: true });
    writeFileSync(path.join('bench-results', 'bench.md'), text);
    return;
  }
  const { root, examples, generated } = corpus();
  const all = [...examples, ...generated];
  const sample = generated.slice(0, COLD_SAMPLE);
  const n = generated.length;
  console.log(`bench: Airflow ${VERSION}, ${examples.length} example DAG files + ${n} generated; cold runs on ${sample.length} files; ${availableParallelism()} CPUs`);
  const env = { ...process.env, AIRFLOW__CORE__LOAD_EXAMPLES: 'False', AIRFLOW_HOME: mkdtempSync(path.join(tmpdir(), 'bench-home-')) };

  const floorRun = spawnSync(PYTHON, [path.join(__dirname, 'floor.py'), 'warm', ...all], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (floorRun.status !== 0) throw new Error(`floor failed: ${floorRun.stderr.slice(-2000)}`);
  const floorJson = JSON.parse(floorRun.stdout.trim().split('\n').pop()!) as { dagbag: Record<string, number>; serializer: Record<string, number> };
  const floor = generated.map((f) => floorJson.dagbag[f]);
  const serializer = generated.map((f) => floorJson.serializer[f]);
  const floorMedian = median(floor);
  const floorTotal = sum(floor);
  const ratio = (ms: number) => `${(ms / floorMedian).toFixed(1)}x`;
  const totalRatio = (ms: number) => `${(ms / floorTotal).toFixed(1)}x`;

  const fresh = sample.map((file) => {
    const started = performance.now();
    spawnSync(PYTHON, [path.join(__dirname, 'floor.py'), 'once', file], { env });
    return performance.now() - started;
  });

  type Row = { name: string; perFile?: number; total?: number; ratio: string; totalRatio?: string };
  const rows: Row[] = [];
  const perFileRow = (name: string, times: number[]): Row => ({ name, perFile: median(times), ratio: ratio(median(times)) });
  const warmRows = (label: string, w: WarmNumbers): Row[] => [
    { name: `${label}, ${n} files one after another`, perFile: median(w.seq), total: sum(w.seq), ratio: ratio(median(w.seq)), totalRatio: totalRatio(sum(w.seq)) },
    { name: `${label}, one file after a ${IDLE_MS} ms pause (${w.idle.length} times)`, perFile: median(w.idle), ratio: ratio(median(w.idle)) },
    { name: `${label}, ${n} files ${CLI_JOBS} at a time (wall clock)`, total: w.batch, ratio: '', totalRatio: totalRatio(w.batch) },
  ];
  rows.push({ name: "Airflow's DagBag, one warm process (the floor)", perFile: floorMedian, total: floorTotal, ratio: '1.0x', totalRatio: '1.0x' });
  rows.push({ name: 'reference: the floor plus Airflow\'s serializer on the same DAGs', perFile: median(floor.map((f, i) => f + serializer[i])), total: floorTotal + sum(serializer), ratio: ratio(median(floor.map((f, i) => f + serializer[i]))), totalRatio: totalRatio(floorTotal + sum(serializer)) });
  rows.push(perFileRow('a fresh python per file with DagBag', fresh));

  let before: WarmNumbers | undefined;
  if (BEFORE_REV) {
    before = serveAlone(beforeHarness(BEFORE_REV), root, generated);
    rows.push(...warmRows(`harness serve alone, before (${BEFORE_REV})`, before));
  }
  const after = serveAlone(hostHarnessDir(), root, generated);
  rows.push(...warmRows('harness serve alone, now', after));

  const results: Record<string, { cold: number[]; warm: WarmNumbers & { firstMs: number } }> = {};
  const notes: string[] = [];
  const measure = async (name: string, body: () => Promise<void>) => {
    try {
      await body();
    } catch (error) {
      notes.push(`${name}: not measured: ${(error as Error).message.split('\n')[0]}`);
      console.error(error);
    }
  };
  if (ENGINES.includes('local')) {
    await measure('local', async () => {
      const cold = await timeEach(new LocalEngine(), root, sample);
      rows.push(perFileRow('local engine, cold', cold));
      const warm = await warmNumbers(() => new LocalEngine({ warm: true }), root, generated);
      rows.push(...warmRows('local engine, warm', warm));
      results.local = { cold, warm };
    });
  }
  if (ENGINES.includes('docker')) {
    await measure('docker', async () => {
      const connection = await connectDocker();
      const cold = await timeEach(new DockerEngine(connection), root, sample);
      rows.push(perFileRow('docker engine, cold', cold));
      const warm = await warmNumbers(() => new DockerEngine(connection, { warm: true }), root, generated);
      rows.push(...warmRows('docker engine, warm', warm));
      results.docker = { cold, warm };
    });
  }

  // Where a warm parse's time goes, stage by stage, in one process on the same files.
  const breakdownRun = spawnSync(PYTHON, [path.join(__dirname, 'breakdown.py'), path.join(root, 'dags'), ...generated.slice(0, BREAKDOWN_SAMPLE)], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    env: { ...env, PYTHONPATH: hostHarnessDir(), AIRFLOW_RUNTIME_CACHE: cacheDir('harness'), AIRFLOW_HOME: '' },
  });
  if (breakdownRun.status !== 0) throw new Error(`breakdown failed: ${breakdownRun.stderr.slice(-2000)}`);
  const stages = JSON.parse(breakdownRun.stdout.trim().split('\n').pop()!) as Record<string, number>;
  const stageRows: Array<[string, string]> = [
    ["Airflow's DagBag in a warm process (the floor)", `${stages.dagbag.toFixed(1)} ms`],
    ["Airflow's serializer on its DAGs (the harness runs it: a DAG it rejects is an import error)", `${stages.serializer.toFixed(1)} ms`],
    ['the harness parse in that process, no fork (DagBag, serializer, lines, result)', `${stages.harness.toFixed(1)} ms`],
    ['fork a child of the warm server and reap it (no work)', `${stages.fork.toFixed(1)} ms`],
    ['the harness parse in a fresh fork', `${stages.child.toFixed(1)} ms (${Math.round(stages.childFaults)} copy-on-write page faults)`],
    ["the same in a fork that first parsed the harness's own DAG", `${stages.prewarmedChild.toFixed(1)} ms (${Math.round(stages.prewarmedFaults)} page faults)`],
    ['one request through serve, one after another (result on the pipe)', `${stages.serveRoundTrip.toFixed(1)} ms`],
  ];

  const x = (ms: number, base: number) => `${(ms / base).toFixed(2)}x`;
  const targets: string[] = [];
  for (const [name, { cold, warm }] of Object.entries(results)) {
    targets.push(`${name}: warm parse of one file: ${x(median(warm.idle), floorMedian)} the floor after a pause, ${x(median(warm.seq), floorMedian)} in a stream; target 1.3x`);
    targets.push(`${name}: first parse of a cold runtime: ${(median(cold) / 1000).toFixed(2)} s vs fresh python ${(median(fresh) / 1000).toFixed(2)} s; target fresh + 0.5 s`);
    targets.push(`${name}: ${n} files warm: ${(warm.batch / 1000).toFixed(2)} s ${CLI_JOBS} at a time (${x(warm.batch, floorTotal)}), ${(sum(warm.seq) / 1000).toFixed(2)} s one after another (${x(sum(warm.seq), floorTotal)}), vs the floor ${(floorTotal / 1000).toFixed(2)} s; target 2x`);
    targets.push(`${name}: a warm server's start-up (first file): ${(warm.firstMs / 1000).toFixed(2)} s`);
  }
  const cell = (ms: number | undefined) => (ms === undefined ? '' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
  const table = [
    `# Parse benchmark (Airflow ${VERSION}, ${availableParallelism()} CPUs, ${new Date().toISOString()})`, '',
    '| method | median per file | total | per file vs the floor | total vs the floor |', '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.name} | ${cell(r.perFile)} | ${cell(r.total)} | ${r.ratio} | ${r.totalRatio ?? ''} |`),
    '', ...targets.map((t) => `- ${t}`), ...notes.map((t) => `- ${t}`), '',
    `Where a warm parse's time goes (medians over ${BREAKDOWN_SAMPLE} generated files, bench/breakdown.py):`, '',
    '| stage | median |', '| --- | ---: |',
    ...stageRows.map(([name, value]) => `| ${name} | ${value} |`), '',
    ...commands,
  ].join('\n');
  console.log(table);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'bench.md'), table);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
