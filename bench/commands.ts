/**
 * The CLI as a user types it, timed whole (node's start, the engine, container start, Airflow's import, every
 * file), against the whole-command floor: one process (one `docker run` for Docker) that imports Airflow once
 * and calls DagBag per file with no isolation at all. Growth from 60 to 300 to 1,000 files, the CLI's peak
 * memory, and a cold first parse of one file against a fresh `python` with DagBag.
 *
 * BENCH_CLI_AIRFLOW   Airflow version of these runs (default 3.3.2: the issue's measurements are Airflow 3)
 * BENCH_CLI_FILES     sizes (default "60 300 1000")
 * BENCH_CLI_ENGINES   engines (default "docker local")
 * BENCH_CLI_COLD_AT   the size at which `--cold` is measured too (default 60; 0 for never)
 * BENCH_CLI_STORM     CLI processes started at once, each parsing one file (default 50; 0 for none)
 * BENCH_PROJECT_FILES sizes of the real-project-shaped corpus (bench/projectCorpus.ts; default "60 1000"; "" for none)
 * BENCH_PROJECT_JOBS  Airflow's parsing_processes for its fork-per-file model (default 2, Airflow's default)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { cacheDir } from '../src/core/engine/cache';
import { connectDocker } from '../src/core/engine/docker/connect';
import { DockerEngine } from '../src/core/engine/docker/dockerEngine';
import { hostHarnessDir } from '../src/core/harness/layout';
import { LocalEngine } from '../src/core/engine/local/localEngine';
import { resolveRuntime } from '../src/core/runtime/resolve';
import { writeProject } from './projectCorpus';

const VERSION = process.env.BENCH_CLI_AIRFLOW ?? '3.3.2';
const SIZES = (process.env.BENCH_CLI_FILES ?? '60 300 1000').split(/\s+/).filter(Boolean).map(Number);
const ENGINES = (process.env.BENCH_CLI_ENGINES ?? 'docker local').split(/\s+/).filter(Boolean) as Array<'docker' | 'local'>;
const COLD_AT = Number(process.env.BENCH_CLI_COLD_AT ?? 60);
const STORM = Number(process.env.BENCH_CLI_STORM ?? 50);
const PROJECT_SIZES = (process.env.BENCH_PROJECT_FILES ?? '60 1000').split(/\s+/).filter(Boolean).map(Number);
const PROJECT_JOBS = Number(process.env.BENCH_PROJECT_JOBS ?? 2);
const PYTHON = path.join(process.env.AIRFLOW_RUNTIME_ENV_CACHE ?? path.join(homedir(), '.cache/airflow-runtime-env'), `venvs/airflow-${VERSION}/bin/python`);
const IMAGE = `airflow-runtime-test/airflow:${VERSION}`;
const CLI = path.resolve(__dirname, '../dist/cli.js');
const FLOOR = path.join(__dirname, 'floor.py');

interface Timed { ms: number; peakKb?: number; code: number | null; tail: string }

/** A command's wall-clock time and peak resident memory (GNU time's %M), as a user's shell would run it. */
function timed(command: string[], cwd: string, env?: NodeJS.ProcessEnv): Timed {
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '@@peak %M', ...command], { cwd, env: env ?? process.env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = performance.now() - started;
  const peak = /@@peak (\d+)/.exec(run.stderr ?? '');
  return { ms, peakKb: peak ? Number(peak[1]) : undefined, code: run.status, tail: (run.stderr ?? '').trim().split('\n').slice(-3).join(' | ') };
}

function workspace(files: number): { root: string; names: string[] } {
  const root = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-bench-cli-'));
  mkdirSync(path.join(root, '.vscode'));
  mkdirSync(path.join(root, 'dags'));
  writeFileSync(path.join(root, 'dags', 'airflow-runtime.yaml'), `image: ${IMAGE}\npull: never\nlocal:\n  python: ${PYTHON}\ntimeouts:\n  parse: 5m\n`);
  const names: string[] = [];
  for (let i = 0; i < files; i++) {
    const name = `generated_${String(i).padStart(4, '0')}.py`;
    writeFileSync(path.join(root, 'dags', name), [
      'from datetime import datetime', 'from airflow import DAG', 'from airflow.providers.standard.operators.bash import BashOperator', '',
      `with DAG(dag_id="generated_${i}", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False, tags=["bench"]):`,
      ...Array.from({ length: 5 }, (_, t) => `    t${t} = BashOperator(task_id="step_${t}", bash_command="echo ${t}")`),
      '    t0 >> t1 >> t2 >> t3 >> t4', '',
    ].join('\n'));
    names.push(name);
  }
  return { root, names };
}

function floorCommand(engine: 'docker' | 'local', root: string, names: string[]): string[] {
  if (engine === 'local') return [PYTHON, FLOOR, 'command', ...names.map((n) => path.join(root, 'dags', n))];
  return ['docker', 'run', '--rm', '--network', 'none', '-e', 'AIRFLOW__CORE__LOAD_EXAMPLES=False', '-v', `${path.join(root, 'dags')}:/dags:ro`, '-v', `${FLOOR}:/floor.py:ro`,
    IMAGE, 'python', '/floor.py', 'command', ...names.map((n) => `/dags/${n}`)];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ratio = (ms: number, base: number) => `${(ms / base).toFixed(2)}x`;

/**
 * `count` CLI processes started at once on this machine, each parsing one file, as a CI matrix or a pre-commit
 * hook on many terminals would: each must succeed or fail with a message that is true (a start deadline
 * named as such, not a DAG file "stuck in native code").
 */
async function storm(engine: 'docker' | 'local', count: number): Promise<string> {
  const { root, names } = workspace(1);
  const started = performance.now();
  const outcomes = await Promise.all(Array.from({ length: count }, () => new Promise<{ code: number | null; last: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, 'parse', `dags/${names[0]}`, '--engine', engine], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code, last: stderr.trim().split('\n').filter((l) => !l.startsWith('engine:')).slice(-2).join(' ') }));
  })));
  const wall = performance.now() - started;
  const ok = outcomes.filter((o) => o.code === 0).length;
  const failures = [...new Set(outcomes.filter((o) => o.code !== 0).map((o) => `exit ${o.code}: ${o.last.slice(0, 300)}`))];
  return `${engine}: ${count} CLI processes at once, one file each: ${ok} succeeded in ${seconds(wall)}${failures.length ? `; failures: ${failures.join(' / ')}` : ''}`;
}

/**
 * The project's floor and Airflow's own model, on `names` (relative to `root`): one process with DagBag per file
 * (imports shared), or Airflow's DAG processor's fork per file (`forks`), with the project root on sys.path as an
 * Astro project has it. Docker: one `docker run` of the same image, the project mounted where Astro puts it.
 */
function projectBaseline(engine: 'docker' | 'local', mode: 'command' | 'forks', root: string, names: string[]): string[] {
  const args = mode === 'forks' ? ['forks', String(PROJECT_JOBS)] : ['command'];
  if (engine === 'local') return ['env', `PYTHONPATH=${root}`, PYTHON, FLOOR, ...args, ...names.map((n) => path.join(root, n))];
  return ['docker', 'run', '--rm', '--network', 'none', '-e', 'AIRFLOW__CORE__LOAD_EXAMPLES=False', '-e', 'PYTHONPATH=/usr/local/airflow',
    '-v', `${root}:/usr/local/airflow:ro`, '-v', `${FLOOR}:/floor.py:ro`, IMAGE, 'python', '/floor.py', ...args, ...names.map((n) => `/usr/local/airflow/${n}`)];
}

/**
 * Issue 24's shape: DAG files importing a SQL provider operator, `requests`, `fastapi` and an `include/` helper
 * (bench/projectCorpus.ts), against the floor and Airflow's fork-per-file model in the same run; at the
 * smallest size also without the pre-import (what `parse` did before it).
 */
function projectBench(engine: 'docker' | 'local', lines: string[], targets: string[]): void {
  for (const size of PROJECT_SIZES) {
    const root = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-bench-project-'));
    const names = writeProject(root, size, `image: ${IMAGE}\npull: never\nlocal:\n  python: ${PYTHON}\ntimeouts:\n  parse: 5m\n`);
    const floor = timed(projectBaseline(engine, 'command', root, names), root);
    const forks = timed(projectBaseline(engine, 'forks', root, names), root);
    const ours = timed([process.execPath, CLI, 'parse', 'dags', '--engine', engine], root);
    const plain = size === PROJECT_SIZES[0] ? timed([process.execPath, CLI, 'parse', 'dags', '--engine', engine, '--no-pre-import'], root) : undefined;
    const failed = [floor, forks, ours, plain].find((t) => t && t.code !== 0);
    if (failed) lines.push(`| ${engine} | ${size} | failed: ${failed.tail} | | | | | | |`);
    lines.push(`| ${engine} | ${size} | ${seconds(floor.ms)} | ${seconds(forks.ms)} (${ratio(forks.ms, floor.ms)}) | ${seconds(ours.ms)} | ${ratio(ours.ms, floor.ms)} | ${(ours.ms / size).toFixed(0)} ms | ${plain ? `${seconds(plain.ms)} (${ratio(plain.ms, floor.ms)})` : ''} |`);
    const target = size >= 1000 ? 2.5 : 2.0;
    targets.push(`${engine}: real-project shape, ${size} files: \`parse dags\` ${ratio(ours.ms, floor.ms)} the floor (${seconds(ours.ms)} vs ${seconds(floor.ms)}; Airflow's fork per file ${ratio(forks.ms, floor.ms)}); target ${target}x`);
  }
}

/** Stage by stage on the project shape, in one process and its forks (bench/preimport_breakdown.py). */
function projectBreakdown(): string[] {
  const root = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-bench-project-'));
  const names = writeProject(root, 20, `image: ${IMAGE}\n`);
  const run = spawnSync(PYTHON, [path.join(__dirname, 'preimport_breakdown.py'), path.join(root, 'dags'), ...names.map((n) => path.join(root, n))], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PYTHONPATH: [hostHarnessDir(), root].join(path.delimiter), AIRFLOW_RUNTIME_CACHE: cacheDir('harness'), AIRFLOW_HOME: '' },
  });
  if (run.status !== 0) return [`- stage by stage: not measured: ${run.stderr.trim().split('\n').slice(-2).join(' ')}`];
  const s = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number>;
  const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;
  return [`Where a file's time goes on this shape (medians over ${names.length} files, local, bench/preimport_breakdown.py):`, '',
    '| stage | time |', '| --- | ---: |',
    `| Airflow's DagBag in a warm process, imports shared (the floor) | ${ms(s.dagbag)} |`,
    `| the harness's parse in a fresh fork, nothing pre-imported (\`--no-pre-import\`; before) | ${ms(s.childPlain)} |`,
    `| the pre-import, once per runtime (probe fork, then the server's import of ${s.learnedModules} modules) | ${ms(s.preImport)} |`,
    `| the harness's parse in a fresh fork after the pre-import (now) | ${ms(s.childPre)} |`];
}

/**
 * The parse side of save to squiggle on a heavy-import file: a warm engine, the file edited, then parsed after a
 * 500 ms pause (a save), 12 times; median from the request to the result (the editor adds its own ~40 ms).
 */
async function heavySave(kind: 'docker' | 'local'): Promise<string> {
  const root = mkdtempSync(path.join(tmpdir(), 'airflow-runtime-bench-save-'));
  const yaml = `image: ${IMAGE}\npull: never\nlocal:\n  python: ${PYTHON}\ntimeouts:\n  parse: 5m\n`;
  const [name] = writeProject(root, 1, yaml);
  const file = path.join(root, name);
  const text = readFileSync(file, 'utf8');
  const times: Record<string, number[]> = {};
  for (const preImport of [true, false]) {
    const options = { warm: true, preImport };
    const engine = kind === 'docker' ? new DockerEngine(await connectDocker(), options) : new LocalEngine(options);
    const runtime = () => resolveRuntime(file, { workspaceRoot: root, readText: (f) => (f === path.join(root, 'airflow-runtime.yaml') ? yaml : undefined) });
    try {
      await engine.parse({ dagFile: file, runtime: runtime() });
      const out: number[] = [];
      for (let i = 0; i < 12; i++) {
        writeFileSync(file, `${text}\n# save ${i}\n`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const started = performance.now();
        const result = await engine.parse({ dagFile: file, runtime: runtime() });
        if (result.importErrors.length) throw new Error(result.importErrors[0].message);
        out.push(performance.now() - started);
      }
      times[String(preImport)] = out.sort((a, b) => a - b);
    } finally {
      await engine.dispose();
    }
  }
  const med = (xs: number[]) => xs[Math.floor(xs.length / 2)].toFixed(0);
  return `${kind}: a heavy-import file re-parsed warm after an edit and a 500 ms pause (the parse in save to squiggle): median ${med(times.true)} ms (min ${times.true[0].toFixed(0)}, max ${times.true[times.true.length - 1].toFixed(0)}); \`--no-pre-import\` ${med(times.false)} ms; target: save to squiggle under 300 ms`;
}

export async function commandBench(): Promise<string[]> {
  if (spawnSync('/usr/bin/time', ['true']).status !== 0) return ['- the CLI as typed: not measured: /usr/bin/time (GNU time) is missing'];
  const lines = [
    `## The CLI as typed (Airflow ${VERSION}; wall clock of the whole command; peak memory of the CLI process)`, '',
    '| engine | files | floor (one process, DagBag per file) | `parse dags` | vs the floor | per file | CLI peak memory | `--cold` | vs the floor |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const targets: string[] = [];
  for (const engine of ENGINES) {
    const growth: string[] = [];
    for (const size of SIZES) {
      const { root, names } = workspace(size);
      const floor = timed(floorCommand(engine, root, names), root);
      const ours = timed([process.execPath, CLI, 'parse', 'dags', '--engine', engine], root);
      const cold = size === COLD_AT ? timed([process.execPath, CLI, 'parse', 'dags', '--engine', engine, '--cold'], root) : undefined;
      const failed = [floor, ours, cold].find((t) => t && t.code !== 0);
      if (failed) lines.push(`| ${engine} | ${size} | failed: ${failed.tail} | | | | | | |`);
      lines.push(`| ${engine} | ${size} | ${seconds(floor.ms)} | ${seconds(ours.ms)} | ${ratio(ours.ms, floor.ms)} | ${(ours.ms / size).toFixed(0)} ms | ${ours.peakKb ? `${Math.round(ours.peakKb / 1024)} MB` : ''} | ${cold ? seconds(cold.ms) : ''} | ${cold ? ratio(cold.ms, floor.ms) : ''} |`);
      growth.push(`${size} files ${ratio(ours.ms, floor.ms)} (${ours.peakKb ? `${Math.round(ours.peakKb / 1024)} MB` : '?'})`);
      if (size === 60 || size === 1000) targets.push(`${engine}: \`parse dags\` on ${size} files: ${ratio(ours.ms, floor.ms)} the whole-command floor (${seconds(ours.ms)} vs ${seconds(floor.ms)}); target 1.3x`);
    }
    targets.push(`${engine}: growth and CLI memory: ${growth.join(', ')}`);

    // A cold first parse of one file, as typed, against a fresh python with DagBag on this machine.
    const { root, names } = workspace(1);
    const file = path.join(root, 'dags', names[0]);
    const fresh = Array.from({ length: 3 }, () => timed([PYTHON, FLOOR, 'once', file], root).ms).sort((a, b) => a - b)[1];
    const one = Array.from({ length: 3 }, () => timed([process.execPath, CLI, 'parse', `dags/${names[0]}`, '--engine', engine], root).ms).sort((a, b) => a - b)[1];
    const oneCold = Array.from({ length: 3 }, () => timed([process.execPath, CLI, 'parse', `dags/${names[0]}`, '--engine', engine, '--cold'], root).ms).sort((a, b) => a - b)[1];
    targets.push(`${engine}: one file, \`parse dags/x.py\`: ${seconds(one)} (\`--cold\`: ${seconds(oneCold)}) vs a fresh python with DagBag ${seconds(fresh)} (medians of 3): ${one - fresh > 0 ? '+' : ''}${seconds(one - fresh)}; target +0.5 s`);
    if (STORM > 0) targets.push(await storm(engine, STORM));
  }
  if (PROJECT_SIZES.length) {
    lines.push('', `## Real-project shape (Airflow ${VERSION}; bench/projectCorpus.ts: a SQL provider operator, requests, fastapi, an include/ helper; every tenth file heavier)`, '',
      `| engine | files | floor (one process, DagBag per file, imports shared) | Airflow's fork per file (${PROJECT_JOBS} at once) | \`parse dags\` | vs the floor | per file | \`--no-pre-import\` |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const engine of ENGINES) projectBench(engine, lines, targets);
    lines.push('', ...projectBreakdown());
    for (const engine of ENGINES) targets.push(await heavySave(engine));
  }
  return [...lines, '', ...targets.map((t) => `- ${t}`), ''];
}
