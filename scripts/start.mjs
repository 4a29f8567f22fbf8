// `npm start`: builds and packages the extension, installs the .vsix into a real VS Code (code-server),
// serves it on 127.0.0.1 with examples/ open, and stays in the foreground until Ctrl-C.
// Also a module: the extension-host tests and the UI tests start code-server through the same functions.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENV_CACHE = process.env.AIRFLOW_RUNTIME_ENV_CACHE || path.join(os.homedir(), '.cache', 'airflow-runtime-env');
export const CODE_SERVER = process.env.CODE_SERVER || path.join(ENV_CACHE, 'code-server', 'node_modules', '.bin', 'code-server');
export const EXTENSION_ID = 'airflow-runtime.airflow-runtime-isolation';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The code-server binary; installs it with scripts/env/code-server.sh when it is missing. */
export function ensureCodeServer(log = console.log, { browser = true } = {}) {
  if (existsSync(CODE_SERVER)) return CODE_SERVER;
  log(`code-server is not installed: running scripts/env/code-server.sh (once, about two minutes)`);
  execFileSync(path.join(REPO, 'scripts', 'env', 'code-server.sh'), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...(browser ? {} : { AIRFLOW_RUNTIME_BROWSER: '0' }) } });
  if (!existsSync(CODE_SERVER)) throw new Error(`scripts/env/code-server.sh did not produce ${CODE_SERVER}`);
  return CODE_SERVER;
}

/** Runs `npm run package` (which builds first) and returns the path of the .vsix. */
export function packageExtension() {
  const { name, version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  execFileSync('npm', ['run', '--silent', 'package'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  return path.join(REPO, `${name}-${version}.vsix`);
}

export function freePort(host = '127.0.0.1', port = 0) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: chosen } = server.address();
      server.close(() => resolve(chosen));
    });
  });
}

/** The port asked for when it is free, else any free port. */
export async function portOrFree(wanted, host = '127.0.0.1') {
  try {
    return await freePort(host, wanted);
  } catch {
    return freePort(host);
  }
}

/** A copy of examples/ that tests may change; Python caches are left behind. */
export function copyExamples(into) {
  cpSync(path.join(REPO, 'examples'), into, { recursive: true, filter: (source) => path.basename(source) !== '__pycache__' });
  return into;
}

/** Every directory code-server writes to, under one root, so that nothing lands in $HOME. */
export function dataDirs(root) {
  const dirs = {
    root,
    user: path.join(root, 'user-data'),
    extensions: path.join(root, 'extensions'),
    xdgConfig: path.join(root, 'xdg', 'config'),
    xdgData: path.join(root, 'xdg', 'data'),
    xdgCache: path.join(root, 'xdg', 'cache'),
    log: path.join(root, 'code-server.log'),
  };
  for (const dir of [dirs.user, dirs.extensions, dirs.xdgConfig, dirs.xdgData, dirs.xdgCache]) mkdirSync(dir, { recursive: true });
  return dirs;
}

/** User settings that keep the workbench quiet and offline; `extra` adds to or overrides them. */
export function writeUserSettings(dirs, extra = {}) {
  const file = path.join(dirs.user, 'User', 'settings.json');
  mkdirSync(path.dirname(file), { recursive: true });
  const settings = {
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'workbench.enableExperiments': false,
    'workbench.tips.enabled': false,
    'chat.commandCenter.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    ...extra,
  };
  writeFileSync(file, JSON.stringify(settings, null, 2) + '\n');
  return file;
}

/**
 * Our cache (venvs, the harness's DBs, uv, debugpy) as the CLI finds it: code-server's XDG_CACHE_HOME is a folder
 * of its own, and the extension would otherwise build again every venv the CLI just built.
 */
export const RUNTIME_CACHE = process.env.AIRFLOW_RUNTIME_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'airflow-runtime');

function codeServerEnv(dirs, env = {}) {
  return { ...process.env, AIRFLOW_RUNTIME_CACHE_DIR: RUNTIME_CACHE, XDG_CONFIG_HOME: dirs.xdgConfig, XDG_DATA_HOME: dirs.xdgData, XDG_CACHE_HOME: dirs.xdgCache, ...env };
}

export function installVsix(bin, dirs, vsix) {
  execFileSync(bin, ['--user-data-dir', dirs.user, '--extensions-dir', dirs.extensions, '--force', '--install-extension', vsix],
    { env: codeServerEnv(dirs), stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Starts code-server on host:port with --auth none and waits until it answers.
 * Returns { url, port, pid, exited, stop }; stop() ends its whole process group.
 */
export async function startCodeServer({ bin, dirs, port, host = '127.0.0.1', folder, disableWorkspaceTrust = false, env = {}, args = [] }) {
  const argv = ['--bind-addr', `${host}:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-getting-started-override', '--user-data-dir', dirs.user, '--extensions-dir', dirs.extensions, ...args];
  if (disableWorkspaceTrust) argv.push('--disable-workspace-trust');   // every folder is trusted
  if (folder) argv.push(folder);
  const child = spawn(bin, argv, { env: codeServerEnv(dirs, env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log = createWriteStream(dirs.log, { flags: 'a' });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  let running = true;
  exited.then(() => { running = false; });
  const stop = async () => {
    if (!running) return;
    for (const [signal, wait] of [['SIGTERM', 5000], ['SIGKILL', 2000]]) {
      try {
        process.kill(-child.pid, signal);   // the whole group: code-server, its extension hosts, their children
      } catch {
        return;
      }
      if (await Promise.race([exited.then(() => true), sleep(wait).then(() => false)])) return;
    }
  };
  const url = `http://${host}:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!running) throw new Error(`code-server exited at start; its log: ${dirs.log}\n${readFileSync(dirs.log, 'utf8').slice(-2000)}`);
    try {
      if ((await globalThis.fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer on ${url} within 60 s; its log: ${dirs.log}`);
    }
    await sleep(200);
  }
  return { url, port, pid: child.pid, exited, stop };
}

/**
 * The examples' runtimes made ready before the editor opens, by the CLI the extension shares its core and cache
 * with: `airflow-runtime parse dags` in `folder` (Docker where the images are, else the embedded default builds
 * its venvs: the one slow step of a first start, with its progress on the terminal). Resolves with what the
 * parse said about engines and files (the lines that start with `engine:` and the per-file lines).
 */
export function prepareExamples(folder, log = console.log) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.js'), 'parse', 'dags'], {
      cwd: folder, env: { ...process.env, AIRFLOW_RUNTIME_CACHE_DIR: RUNTIME_CACHE }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    const said = [];
    let rest = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      for (const line of lines.map((l) => l.trim()).filter(Boolean)) {
        log(`  ${line}`);
        said.push(line);
      }
    });
    child.on('error', (error) => resolve({ code: 2, said: [...said, error.message] }));
    // 'close': stderr is drained, and a last line without its line break is said too
    child.on('close', (code) => {
      if (rest.trim()) {
        log(`  ${rest.trim()}`);
        said.push(rest.trim());
      }
      resolve({ code, said });
    });
  });
}

/** A code-server data folder with the .vsix installed (no development path) and quiet user settings. */
export function installedCodeServer(bin, root, vsix, settings = {}) {
  const dirs = dataDirs(root);
  installVsix(bin, dirs, vsix);
  writeUserSettings(dirs, settings);
  return dirs;
}

async function main() {
  const t0 = Date.now();
  const log = (line) => console.log(`[start ${((Date.now() - t0) / 1000).toFixed(0)} s] ${line}`);
  const bin = ensureCodeServer(log, { browser: false });
  log('building and packaging the extension');
  const vsix = packageExtension();
  const dirs = installedCodeServer(bin, process.env.AIRFLOW_RUNTIME_START_DIR || path.join(ENV_CACHE, 'start'), vsix);
  log(`installed ${path.relative(REPO, vsix)} into ${dirs.extensions}`);
  // AIRFLOW_RUNTIME_START_FOLDER: another project to open (the fresh-machine test opens a copy of examples/)
  const folder = path.resolve(process.env.AIRFLOW_RUNTIME_START_FOLDER || path.join(REPO, 'examples'));
  log('parsing the examples in their runtimes (the first time, the runtimes they need are made: a minute or two)');
  const { code } = await prepareExamples(folder, log);
  if (code === 2) log('the examples could not all be parsed (above): the editor opens anyway, with the same problems in its DAG tree');
  const wanted = Number(process.env.PORT) || 8080;
  const port = await portOrFree(wanted);
  if (port !== wanted) log(`port ${wanted} is busy: using ${port}`);
  const server = await startCodeServer({ bin, dirs, port, folder });
  const url = `${server.url}/?folder=${encodeURIComponent(folder)}`;
  log('ready');
  console.log(`\n  VS Code (code-server) with the extension and examples/ open:\n\n      ${url}\n\n  Log: ${dirs.log}. Ctrl-C stops it.\n`);
  let stopping = false;
  const shutdown = async () => {
    stopping = true;
    await server.stop();
    log('stopped');
    process.exit(0);   // Ctrl-C is how it is meant to end
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  const how = await server.exited;
  if (stopping) return;
  log(`code-server exited by itself (${how}); its log: ${dirs.log}`);
  process.exit(1);
}

/** A scratch folder under the OS temp dir, removed by the returned function. */
export function scratch(prefix) {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`[start] ${error.message}`);
    process.exit(2);
  });
}
