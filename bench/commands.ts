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
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';

const VERSION = process.env.BENCH_CLI_AIRFLOW ?? '3.3.2';
const SIZES = (process.env.BENCH_CLI_FILES ?? '60 300 1000').split(/\s+/).filter(Boolean).map(Number);
const ENGINES = (process.env.BENCH_CLI_ENGINES ?? 'docker local').split(/\s+/).filter(Boolean) as Array<'docker' | 'local'>;
const COLD_AT = Number(process.env.BENCH_CLI_COLD_AT ?? 60);
const STORM = Number(process.env.BENCH_CLI_STORM ?? 50);
const PYTHON = path.join(process.env.AIRFLOW_RUNTIME_ENV_CACHE ?? path.join(homedir(), '.cache/airflow-runtime-env'), `venvs/airflow-${VERSION}/bin/python`);
const IMAGE = `airflow-runtime-test/airflow:${VERSION}`;
const CLI = path.resolve(__dirname, '../dist/cli.js');
const FLOOR = path.join(__dirname, 'floor.py');

interface Timed { ms: number; peakKb?: number; code: number | null; tail: string }

/** A command's wall-clock time and peak resident memory (GNU time's %M), as a user's shell would run it. */
function timed(command: string[], cwd: string): Timed {
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '@@peak %M', ...command], { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
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
  return [...lines, '', ...targets.map((t) => `- ${t}`), ''];
}
