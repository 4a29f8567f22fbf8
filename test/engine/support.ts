/** What the engine tests share: the built CLI as a process, the real components they need, our containers. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');
export const CLI = path.join(REPO, 'dist/cli.js');
export const EXAMPLES = path.join(REPO, 'examples');
export const REMOTE = `tcp://127.0.0.1:${process.env.AIRFLOW_RUNTIME_DOCKER_TCP_PORT ?? '2375'}`;
export const VERSIONS = (process.env.AIRFLOW_VERSIONS ?? '2.11.2 3.3.2').split(/\s+/).filter(Boolean);
const ENV_CACHE = process.env.AIRFLOW_RUNTIME_ENV_CACHE ?? path.join(os.homedir(), '.cache', 'airflow-runtime-env');
const REQUIRE_REAL = process.env.AIRFLOW_RUNTIME_REQUIRE_REAL === '1';

export const image = (version: string) => `airflow-runtime-test/airflow:${version}`;
export const venvPython = (version: string) => path.join(ENV_CACHE, 'venvs', `airflow-${version}`, 'bin', 'python');

export function dockerProblem(): string | undefined {
  const info = spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'image', 'inspect', ...VERSIONS.map(image)], { encoding: 'utf8' });
  if (info.error) return `no docker client: ${info.error.message}`;
  if (info.status !== 0) return `Docker engine or test images missing (run scripts/env/docker.sh and scripts/env/images.sh): ${info.stderr.trim().split('\n')[0]}`;
  return undefined;
}

/** The same engine, reached over loopback TCP: a "remote" daemon for the engine, where nothing is bind-mounted. */
export function remoteProblem(): string | undefined {
  const info = spawnSync('docker', ['-H', REMOTE, 'version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' });
  if (info.error || info.status !== 0) return `dockerd does not listen on ${REMOTE} (run scripts/env/docker.sh): ${(info.stderr ?? '').trim().split('\n')[0]}`;
  return undefined;
}

export function venvProblem(): string | undefined {
  const missing = VERSIONS.map(venvPython).filter((python) => spawnSync(python, ['-c', 'import airflow']).status !== 0);
  return missing.length ? `Airflow venvs missing (run scripts/env/venvs.sh): ${missing.join(', ')}` : undefined;
}

/** The local emulator's sandbox (scripts/env/sandbox.sh). */
export function sandboxProblem(): string | undefined {
  const probe = spawnSync('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-net', 'true'], { encoding: 'utf8' });
  if (probe.error) return 'bubblewrap (bwrap) is not installed (run scripts/env/sandbox.sh)';
  if (probe.status !== 0) return `bubblewrap cannot make namespaces here: ${(probe.stderr ?? '').trim()}`;
  return undefined;
}

/** Skips loudly where a real component is missing; fails instead when CI requires the real thing. */
export function needs(...problems: (string | undefined)[]): { skip?: string } {
  const problem = problems.find(Boolean);
  if (!problem) return {};
  if (REQUIRE_REAL) throw new Error(`required for this test run: ${problem}`);
  console.warn(`\n!!! SKIPPING engine tests: ${problem}\n`);
  return { skip: problem };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The built CLI as a user runs it. DOCKER_HOST is dropped unless given, so that "local" means the socket. */
export function cli(args: string[], options: { cwd?: string; env?: Record<string, string>; onStderr?: (soFar: string) => void; onSpawn?: (pid: number) => void } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DOCKER_HOST;
  delete env.DOCKER_CONTEXT;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? EXAMPLES, env: { ...env, ...options.env } });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => {
      stderr += c;
      options.onStderr?.(stderr);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** Containers labelled as ours whose DAG-file label names a path under one of `roots` (warm ones say warm:<root>). */
export function ourContainers(...roots: string[]): string[] {
  const out = spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'ps', '-a', '--filter', 'label=airflow-runtime.managed=true', '--format', '{{.ID}} {{.Labels}}'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => roots.some((root) => line.includes(root)));
}

/** A workspace root of its own in a temp folder (marked by .vscode), filled with the given files. */
export function scratchWorkspace(prefix: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `airflow-runtime-${prefix}-`));
  mkdirSync(path.join(dir, '.vscode'));
  writeFileSync(path.join(dir, '.vscode', 'settings.json'), '{}\n');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** What is compared between two ways of parsing the same files: everything but timings and log timestamps. */
export function comparable(results: Record<string, unknown>[]): Record<string, unknown>[] {
  return results.map((result) => {
    const copy: Record<string, unknown> = { ...result };
    delete copy.durationMs;
    delete copy.engine;
    const output = result.output as { bytes: number; truncated: boolean } | undefined;
    return { ...copy, output: output && { bytes: output.bytes, truncated: output.truncated } };
  });
}
