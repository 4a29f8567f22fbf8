/**
 * npm run bench: how fast a parse is, against Airflow's own DagBag on the same files, in one run.
 * Writes bench-results/bench.md. Needs the Airflow venv and image from scripts/env.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { connectDocker, DockerEngine } from '../src/core/engine/docker/dockerEngine';
import { LocalEngine } from '../src/core/engine/local/localEngine';
import type { Engine } from '../src/core/engine/types';
import { resolveRuntime } from '../src/core/runtime/resolve';

const VERSION = process.env.BENCH_AIRFLOW ?? '2.11.2';
const PYTHON = path.join(process.env.AIRFLOW_RUNTIME_ENV_CACHE ?? path.join(homedir(), '.cache/airflow-runtime-env'), `venvs/airflow-${VERSION}/bin/python`);
const IMAGE = `airflow-runtime-test/airflow:${VERSION}`;
const GENERATED = Number(process.env.BENCH_FILES ?? 200);
const COLD_SAMPLE = Number(process.env.BENCH_COLD_SAMPLE ?? 8);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

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
  writeFileSync(path.join(root, 'airflow-runtime.yaml'), `image: ${IMAGE}\npull: never\nlocal:\n  python: ${PYTHON}\ntimeouts:\n  parse: 5m\n`);
  return { root, examples, generated };
}

async function timeEach(engine: Engine, root: string, files: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const file of files) {
    const runtime = resolveRuntime(file, { workspaceRoot: root, readText: (f) => (f === path.join(root, 'airflow-runtime.yaml') ? `image: ${IMAGE}\npull: never\nlocal:\n  python: ${PYTHON}\ntimeouts:\n  parse: 5m\n` : undefined) });
    const started = performance.now();
    await engine.parse({ dagFile: file, runtime });
    out.push(performance.now() - started);
  }
  return out;
}

async function main(): Promise<void> {
  const { root, examples, generated } = corpus();
  const all = [...examples, ...generated];
  const sample = generated.slice(0, COLD_SAMPLE);
  console.log(`bench: Airflow ${VERSION}, ${examples.length} example DAG files + ${generated.length} generated; cold runs on ${sample.length} files`);
  const env = { ...process.env, AIRFLOW__CORE__LOAD_EXAMPLES: 'False', AIRFLOW_HOME: mkdtempSync(path.join(tmpdir(), 'bench-home-')) };

  const floorRun = spawnSync(PYTHON, [path.join(__dirname, 'floor.py'), 'warm', ...all], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (floorRun.status !== 0) throw new Error(`floor failed: ${floorRun.stderr.slice(-2000)}`);
  const floor = JSON.parse(floorRun.stdout.trim().split('\n').pop()!) as Record<string, number>;
  const floorOf = (files: string[]) => files.map((f) => floor[f]);

  const fresh = sample.map((file) => {
    const started = performance.now();
    spawnSync(PYTHON, [path.join(__dirname, 'floor.py'), 'once', file], { env });
    return performance.now() - started;
  });

  const rows: { name: string; perFile: number; total?: number; ratio: string }[] = [];
  const floorMedian = median(floorOf(generated));
  rows.push({ name: "Airflow's DagBag, one warm process (the floor)", perFile: floorMedian, total: sum(floorOf(generated)), ratio: '1.0x' });
  rows.push({ name: 'a fresh python per file with DagBag', perFile: median(fresh), ratio: `${(median(fresh) / floorMedian).toFixed(1)}x` });

  const local = new LocalEngine();
  const localCold = await timeEach(local, root, sample);
  rows.push({ name: 'local engine, cold', perFile: median(localCold), ratio: `${(median(localCold) / floorMedian).toFixed(1)}x` });
  const localWarm = new LocalEngine({ warm: true });
  await timeEach(localWarm, root, [generated[0]]);
  const localWarmTimes = await timeEach(localWarm, root, generated);
  await localWarm.dispose();
  rows.push({ name: `local engine, warm (${generated.length} files)`, perFile: median(localWarmTimes), total: sum(localWarmTimes), ratio: `${(median(localWarmTimes) / floorMedian).toFixed(1)}x` });

  const connection = await connectDocker();
  const dockerCold = await timeEach(new DockerEngine(connection), root, sample);
  rows.push({ name: 'docker engine, cold', perFile: median(dockerCold), ratio: `${(median(dockerCold) / floorMedian).toFixed(1)}x` });
  const dockerWarm = new DockerEngine(connection, { warm: true });
  const firstWarm = await timeEach(dockerWarm, root, [generated[0]]);
  const dockerWarmTimes = await timeEach(dockerWarm, root, generated);
  await dockerWarm.dispose();
  rows.push({ name: `docker engine, warm (${generated.length} files)`, perFile: median(dockerWarmTimes), total: sum(dockerWarmTimes), ratio: `${(median(dockerWarmTimes) / floorMedian).toFixed(1)}x` });

  const targets = [
    `warm parse of one file: ${(median(dockerWarmTimes) / floorMedian).toFixed(2)}x the floor (docker), ${(median(localWarmTimes) / floorMedian).toFixed(2)}x (local); target 1.3x`,
    `first parse of a cold runtime: docker ${(median(dockerCold) / 1000).toFixed(2)} s, local ${(median(localCold) / 1000).toFixed(2)} s, vs fresh python ${(median(fresh) / 1000).toFixed(2)} s; target fresh + 0.5 s`,
    `${generated.length} files with --warm: docker ${(sum(dockerWarmTimes) / 1000).toFixed(1)} s, local ${(sum(localWarmTimes) / 1000).toFixed(1)} s, vs the floor ${(sum(floorOf(generated)) / 1000).toFixed(1)} s: ${(sum(dockerWarmTimes) / sum(floorOf(generated))).toFixed(2)}x and ${(sum(localWarmTimes) / sum(floorOf(generated))).toFixed(2)}x; target 2x`,
    `a warm server's start-up (docker, first file): ${(firstWarm[0] / 1000).toFixed(2)} s`,
  ];
  const table = [
    `# Parse benchmark (Airflow ${VERSION}, ${new Date().toISOString()})`, '',
    '| method | median per file | total | ratio to the floor |', '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.name} | ${r.perFile.toFixed(0)} ms | ${r.total === undefined ? '' : `${(r.total / 1000).toFixed(1)} s`} | ${r.ratio} |`),
    '', ...targets.map((t) => `- ${t}`), '',
  ].join('\n');
  console.log(table);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'bench.md'), table);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
