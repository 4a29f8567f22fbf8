/**
 * A real Airflow 3 Celery deployment on one machine, for the production test: PostgreSQL and Redis from Debian
 * as processes this test owns, and Airflow's components in containers on the host network, so that every
 * connection stays on 127.0.0.1. Everything started here is registered for cleanup: containers carry a label
 * unique to the run (never found by a common name), the servers are killed by the pid we spawned.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const AIRFLOW_VERSION = '3.3.2';
export const DEPLOYMENT_IMAGE = `airflow-runtime-test/deployment:${AIRFLOW_VERSION}`;
export const RUN_LABEL = 'airflow-runtime.production-test';
/** Unique to this run: the value of RUN_LABEL on each of our containers and the prefix of their names. */
export const RUN = `airflow-runtime-prod-${process.pid}-${randomBytes(4).toString('hex')}`;
const REQUIRE_REAL = process.env.AIRFLOW_RUNTIME_REQUIRE_REAL === '1';

export const log = (message: string) => console.error(`[production ${new Date().toISOString().slice(11, 19)}] ${message}`);

// --- what the test needs on this machine -------------------------------------------------------------------

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

export function problems(images: string[]): string | undefined {
  if (!pgBin()) return 'PostgreSQL is not installed (run scripts/env/production.sh)';
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is not installed (run scripts/env/production.sh)';
  const inspect = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', DEPLOYMENT_IMAGE, ...images], { encoding: 'utf8' });
  if (inspect.error) return `no docker client: ${inspect.error.message}`;
  if (inspect.status !== 0) return `Docker engine or the deployment's images missing (run scripts/env/docker.sh, images.sh, production.sh): ${inspect.stderr.trim().split('\n')[0]}`;
  return undefined;
}

/** Skips loudly where a real component is missing; fails instead when CI requires the real thing. */
export function needs(problem: string | undefined): { skip?: string } {
  if (!problem) return {};
  if (REQUIRE_REAL) throw new Error(`required for this test run: ${problem}`);
  console.warn(`\n!!! SKIPPING the production test: ${problem}\n`);
  return { skip: problem };
}

// --- cleanup: on success, failure, SIGINT and SIGTERM ------------------------------------------------------

const cleanups: (() => void)[] = [];
let cleaned = false;

/** Runs every registered cleanup once, newest first. Synchronous, so that it also works in an exit handler. */
export function cleanupAll(): void {
  if (cleaned) return;
  cleaned = true;
  for (const step of cleanups.reverse()) {
    try {
      step();
    } catch (error) {
      log(`cleanup step failed: ${(error as Error).message}`);
    }
  }
}

/** Registers a cleanup step of a test (e.g. removing containers that a component of the deployment started). */
export function onCleanup(step: () => void): void {
  cleanups.push(step);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: removing what this run started`);
    cleanupAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}
process.once('exit', cleanupAll);

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops a server we spawned: `signal` first (its own clean shutdown), SIGKILL when it has not exited in time. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs = 5000): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const alive = () => {
    try {
      process.kill(child.pid!, 0);
      return spawnSync('ps', ['-o', 'stat=', '-p', String(child.pid)], { encoding: 'utf8' }).stdout.trim()[0] !== 'Z';
    } catch {
      return false;
    }
  };
  process.kill(child.pid, signal);
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) sleepSync(50);
  if (alive()) process.kill(child.pid, 'SIGKILL');
}

// --- a scratch folder every container can read at the same path ---------------------------------------------

export function scratch(): string {
  const dir = path.join(os.tmpdir(), RUN);
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755); // the postgres user reads its data folder under it
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** An error that ends a waitFor at once (other errors of a probe are retried until the deadline). */
export class Fatal extends Error {}

/** Polls `probe` until it returns a value (not undefined); `check` is called on every round to fail early. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, check?: () => void): Promise<T> {
  const started = Date.now();
  let last = '';
  for (;;) {
    check?.();
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof Fatal) throw error;
      last = (error as Error).message;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(1000);
  }
}

// --- PostgreSQL and Redis, as processes of this test ----------------------------------------------------------

function spawnServer(name: string, command: string, args: string[]): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c) => (output = (output + c).slice(-20000)));
  child.stderr!.on('data', (c) => (output = (output + c).slice(-20000)));
  child.on('error', (error) => (output += `\n${name} did not start: ${error.message}`));
  return { child, output: () => output };
}

function exited(name: string, server: { child: ChildProcess; output: () => string }): void {
  const { exitCode, signalCode } = server.child;
  if (exitCode !== null || signalCode !== null) throw new Error(`${name} exited (${exitCode ?? signalCode}):\n${server.output()}`);
}

/** A PostgreSQL cluster of its own (initdb into `dir`), listening on 127.0.0.1:port only, with a database `airflow`. */
export async function startPostgres(dir: string, port: number): Promise<string> {
  const bin = pgBin()!;
  const data = path.join(dir, 'postgres');
  mkdirSync(data, { mode: 0o700 });
  // PostgreSQL refuses to run as root: as root, run it as Debian's postgres user (setpriv execs, no fork).
  const asOwner = process.getuid?.() === 0 ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'] : [];
  if (asOwner.length) spawnSync('chown', ['postgres:postgres', data]);
  const run = (args: string[]) => (asOwner.length ? { command: asOwner[0], args: [...asOwner.slice(1), ...args] } : { command: args[0], args: args.slice(1) });
  const initdb = run([path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
  const init = spawnSync(initdb.command, initdb.args, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const postgres = run([
    path.join(bin, 'postgres'), '-D', data, '-p', String(port), '-k', data,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200',
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
  ]);
  const server = spawnServer('postgres', postgres.command, postgres.args);
  cleanups.push(() => stopChild(server.child, 'SIGINT')); // SIGINT: fast shutdown, ends every backend
  const url = `postgresql://postgres@127.0.0.1:${port}`;
  await waitFor(`PostgreSQL on 127.0.0.1:${port}`, 60_000, () => (spawnSync(path.join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]).status === 0 ? true : undefined), () => exited('postgres', server));
  const create = spawnSync(path.join(bin, 'psql'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', 'CREATE DATABASE airflow'], { encoding: 'utf8' });
  if (create.status !== 0) throw new Error(`CREATE DATABASE failed: ${create.stderr}`);
  return `${url}/airflow`;
}

/** A redis-server of its own on 127.0.0.1:port, nothing written to disk. */
export async function startRedis(port: number): Promise<string> {
  const server = spawnServer('redis-server', 'redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning']);
  cleanups.push(() => stopChild(server.child, 'SIGTERM'));
  await waitFor(`Redis on 127.0.0.1:${port}`, 30_000, () => redisPing(port), () => exited('redis-server', server));
  return `redis://127.0.0.1:${port}/0`;
}

function redisPing(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => (socket.destroy(), resolve(undefined)));
    socket.on('error', () => resolve(undefined));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => (socket.destroy(), resolve(data.toString().startsWith('+PONG') ? true : undefined)));
  });
}

// --- Airflow's components in containers ----------------------------------------------------------------------

export interface ContainerSpec {
  /** Short role name, e.g. "scheduler", "worker-rt-…": the container is named `${RUN}-${role}`. */
  role: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  /** Host paths mounted at the same path in the container; `rw` ones writable. */
  mounts: { path: string; rw?: boolean }[];
}

const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

function dockerRunArgs(spec: ContainerSpec): string[] {
  return [
    '--name', `${RUN}-${spec.role}`, '--label', `${RUN_LABEL}=${RUN}`, '--label', `${RUN_LABEL}.role=${spec.role}`,
    '--network', 'host',
    ...spec.mounts.flatMap((m) => ['-v', `${m.path}:${m.path}:${m.rw ? 'rw' : 'ro'}`]),
    ...Object.entries(spec.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    spec.image, ...spec.command,
  ];
}

/** Every container of this run is removed by its label, whatever happens to the test. */
let containerCleanupRegistered = false;
function registerContainerCleanup(): void {
  if (containerCleanupRegistered) return;
  containerCleanupRegistered = true;
  cleanups.push(() => {
    const ids = docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}=${RUN}`]).stdout.split('\n').filter(Boolean);
    if (ids.length) docker(['rm', '-f', '-v', ...ids]);
  });
}

/** Runs a one-off command to its end (e.g. `airflow db migrate`); throws with its output when it fails. */
export function runOnce(spec: ContainerSpec, timeoutMs: number): Promise<string> {
  registerContainerCleanup();
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['run', '--rm', ...dockerRunArgs(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output = (output + c).slice(-50000)));
    child.stderr.on('data', (c) => (output = (output + c).slice(-50000)));
    const timer = setTimeout(() => docker(['rm', '-f', `${RUN}-${spec.role}`]), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${spec.role} (${spec.command.join(' ')}) exited ${code}:\n${output.slice(-6000)}`));
    });
  });
}

export class Container {
  private constructor(readonly spec: ContainerSpec, readonly id: string) {}

  static start(spec: ContainerSpec): Container {
    registerContainerCleanup();
    const run = docker(['run', '-d', ...dockerRunArgs(spec)]);
    if (run.status !== 0) throw new Error(`docker run ${spec.role} failed: ${run.stderr}`);
    return new Container(spec, run.stdout.trim());
  }

  /** Throws with the container's log when it is no longer running: a component that died fails the test at once. */
  checkRunning(): void {
    const state = docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', this.id]).stdout.trim();
    if (!state.startsWith('running')) throw new Error(`${this.spec.role} is ${state}:\n${this.logs(80)}`);
  }

  logs(tail = 60): string {
    const out = docker(['logs', '--tail', String(tail), this.id]);
    return (out.stdout + out.stderr).trim();
  }
}

// --- Airflow's REST API ------------------------------------------------------------------------------------------

export class Api {
  constructor(readonly base: string) {}

  async request<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.base}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get = <T = unknown>(route: string) => this.request<T>('GET', route);

  /** A task's log as the API server serves it (read from the workers' log folder): its events' text, one a line. */
  async taskLog(route: string): Promise<string> {
    const { content } = await this.get<{ content: ({ event?: string } | string)[] }>(route);
    return content.map((line) => (typeof line === 'string' ? line : line.event ?? JSON.stringify(line))).join('\n');
  }
  post = <T = unknown>(route: string, body: unknown) => this.request<T>('POST', route, body);
}
