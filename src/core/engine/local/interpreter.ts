import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isPathLike } from '../../runtime/checks';
import { type DeclaredAirflow, declaredAirflowOf } from '../../runtime/declaredAirflow';
import { type RequirementLine, requirementLines } from '../../runtime/requirements';
import { requirementsListLines } from '../requirementsList';
import type { RequirementsSource } from '../../runtime/requirementsPlace';
import type { RuntimeValues } from '../../runtime/values';
import { cacheDir } from '../cache';
import { EngineError } from '../errors';
import { exclusiveLock } from '../fileLock';
import { hostHarnessDir } from '../../harness/layout';
import { runProcess } from '../processTree';
import type { WorkOptions } from '../types';
import { hostEnvironment } from './hostEnvironment';
import { requirementsInstallFailure } from './requirementsFailure';
import { ensureUv } from './uv';
import { which } from './which';

export { which } from './which';

export interface Interpreter {
  python: string;
  /** How it was chosen, for people. */
  origin: string;
  /** The embedded default: nothing in the runtime files named this interpreter; their Airflow version chose it. */
  embedded?: boolean;
}

const building = new Map<string, Promise<Interpreter>>();

/**
 * The interpreter for a runtime: `local.python`; a venv built from `local.requirements`; else **the embedded
 * default**, a cached venv with the Airflow (and Python) the runtime declares (its image's tag, see
 * declaredAirflow.ts); else `python3` on PATH.
 */
export async function resolveInterpreter(values: RuntimeValues, options: WorkOptions & { runtime?: RequirementsSource } = {}): Promise<Interpreter> {
  const local = values.local;
  if (local?.python) {
    const python = isPathLike(local.python) ? local.python : which(local.python);
    if (!python || !existsSync(python)) {
      throw new EngineError('interpreter-missing', `local.python "${local.python}" was not found`, 'point local.python at an interpreter that has Airflow installed');
    }
    return { python, origin: `local.python ${python}` };
  }
  if (local?.requirements) {
    const requirements = local.requirements;
    const text = readRequirements(requirements);
    // Airflow's pins for the version the file pins, as Airflow's install guide asks: the file's own pins may
    // disagree with them, and then the file alone decides (said in the progress)
    const pinned = declaredAirflowOf({ local: { requirements } }, () => text);
    const constraints = pinned && constraintsFor(fullVersion(pinned.version));
    return once(venvKey(requirements, text + (constraints ? readFileSync(constraints, 'utf8') : '')), (key) => buildVenv({
      key, install: ['-r', requirements], constraints, cwd: path.dirname(requirements), what: path.basename(requirements), origin: `venv from ${requirements}`,
    }, options));
  }
  const declared = declaredAirflowOf(values);
  if (declared) return { ...await embeddedAirflow(declared, options, runtimeAdditions(values, options)), embedded: true };
  const python = which('python3') ?? which('python');
  if (!python) throw new EngineError('interpreter-missing', 'no python3 on PATH', 'install Python 3.9+ with Airflow, or set local.python in the runtime file');
  return { python, origin: `python3 on PATH (${python}); set local.python or local.requirements to choose` };
}

/** One build per key at a time, however many files ask for it at once. */
async function once(key: string, build: (key: string) => Promise<Interpreter>): Promise<Interpreter> {
  const pending = building.get(key) ?? build(key);
  building.set(key, pending);
  try {
    return await pending;
  } finally {
    building.delete(key);
  }
}

function readRequirements(requirements: string): string {
  try {
    return readFileSync(requirements, 'utf8');
  } catch {
    throw new EngineError('bad-runtime', `cannot read the requirements file ${requirements}`, 'fix the path in the runtime file');
  }
}

function venvKey(requirements: string, text: string): string {
  return createHash('sha256').update(requirements).update('\0').update(text).digest('hex').slice(0, 16);
}

/** Where the pins we ship live: media/constraints, the same files the test venvs and images install. */
function constraintsFolder(): string {
  return path.resolve(path.dirname(hostHarnessDir()), '..', 'media', 'constraints');
}

/** Airflow's pins for the versions we ship them for. */
export function constraintsFor(version: string): string | undefined {
  const file = path.join(constraintsFolder(), `airflow-${version}.txt`);
  return existsSync(file) ? file : undefined;
}

/** The newest patch we have pins for, for a declared minor (`3.0` of an Astro Runtime tag): read off the folder. */
export function fullVersion(version: string): string {
  if (/^\d+\.\d+\.\d+$/.test(version)) return version;
  let shipped: string[] = [];
  try {
    shipped = readdirSync(constraintsFolder()).map((name) => /^airflow-(\d+\.\d+\.\d+)\.txt$/.exec(name)?.[1]).filter((v): v is string => !!v);
  } catch {
    // none shipped: the minor's first release
  }
  const patches = shipped.filter((v) => v.startsWith(`${version}.`)).map((v) => Number(v.split('.')[2]));
  return patches.length ? `${version}.${Math.max(...patches)}` : `${version}.0`;
}

/**
 * The embedded default: a venv with `apache-airflow==X` (Airflow's pins applied where we ship them), built once
 * with uv and kept in our cache. The host's python3 when the runtime's Python is not on this machine (said).
 */
async function embeddedAirflow(declared: DeclaredAirflow, options: WorkOptions & { runtime?: RequirementsSource }, additions?: LocalAdditions): Promise<Interpreter> {
  const version = fullVersion(declared.version);
  const constraints = constraintsFor(version);
  const wanted = declared.python ? which(`python${declared.python}`) : undefined;
  const base = wanted ?? pythonFor(version);
  if (!base) throw new EngineError('interpreter-missing', `no python3 on PATH to build a local Airflow ${version} with`, 'install Python 3.10+');
  const pythonNote = declared.python && !wanted ? ` (Python ${declared.python} is not on this machine: ${base})` : '';
  const key = createHash('sha256').update(JSON.stringify([version, base, constraints ? readFileSync(constraints, 'utf8') : '', additions?.lines ?? []])).digest('hex').slice(0, 12);
  return once(`airflow-${version}-${key}`, (name) => buildVenv({
    key: name,
    base,
    // Airflow named beside the requirements: the runtime's version is held, as in the image built from them
    install: [`apache-airflow==${version}`, ...additions?.install ?? []],
    constraints,
    cwd: additions?.cwd,
    explain: additions && ((tail) => requirementsInstallFailure(tail, additions.requirements, additions.file, options.runtime)),
    what: `apache-airflow==${version}${additions ? ` and ${additions.what}` : ''}${constraints ? ' with its pinned constraints' : ' (no constraints shipped for this version)'}`,
    origin: `a local Airflow ${version} (from ${declared.source})${additions ? ` with ${additions.what}` : ''}${pythonNote}`,
  }, options));
}

/** A runtime's `requirements` as the local venv installs them (the same the Docker engine builds into the image). */
interface LocalAdditions {
  install: string[];
  /** The requirements as pip reads them: the venv's key. */
  lines: string[];
  /** The same, with their lines: where uv's complaint about one goes. */
  requirements: RequirementLine[];
  /** The requirements file, or undefined for a list in the runtime file. */
  file?: string;
  cwd?: string;
  what: string;
}

/** Said once per process: Debian packages are the image's, and no venv can have them. */
const packagesSaid = new Set<string>();

function runtimeAdditions(values: RuntimeValues, options: WorkOptions & { runtime?: RequirementsSource }): LocalAdditions | undefined {
  if (values.packages !== undefined) {
    const names = typeof values.packages === 'string' ? path.basename(values.packages) : values.packages.join(', ');
    if (!packagesSaid.has(names)) {
      packagesSaid.add(names);
      options.onNotice?.(`the runtime's Debian packages (${names}) cannot be installed by the local emulator: code that needs them works on the Docker engine only`);
    }
  }
  const declared = values.requirements;
  if (declared === undefined) return undefined;
  if (typeof declared === 'string') {
    const requirements = requirementLines(readRequirements(declared), path.dirname(declared));
    return { install: ['-r', declared], lines: requirements.map((line) => line.text), requirements, file: declared, cwd: path.dirname(declared), what: path.basename(declared) };
  }
  // uv runs in the list's runtime file's folder, where its local paths are read
  const { lines: requirements, folder: cwd } = requirementsListLines(declared, options.runtime);
  return { install: [...declared], lines: [...declared], requirements, cwd, what: `${declared.length} requirement${declared.length === 1 ? '' : 's'}` };
}

/** The newest Python each Airflow line supports (Airflow's own matrix): a newer python3 cannot install it. */
function newestPythonFor(version: string): number {
  const [major, minor] = version.split('.').map(Number);
  return major >= 3 && minor >= 1 ? 13 : 12;
}

/** python3 when Airflow supports its version, else the newest python3.X on PATH it supports, else python3 anyway. */
function pythonFor(version: string): string | undefined {
  const python3 = which('python3') ?? which('python');
  const newest = newestPythonFor(version);
  const probe = python3 ? spawnSync(python3, ['-c', 'import sys; print(sys.version_info[1])'], { encoding: 'utf8', timeout: 10_000 }) : undefined;
  const minor = Number(probe?.stdout.trim());
  if (python3 && Number.isInteger(minor) && minor <= newest) return python3;
  for (let m = newest; m >= 10; m--) {
    const candidate = which(`python3.${m}`);
    if (candidate) return candidate;
  }
  return python3;
}

interface VenvRecipe {
  /** The cache folder's name under venvs/. */
  key: string;
  /** The interpreter the venv is made from (python3 on PATH when not given). */
  base?: string;
  /** What `pip install` is given. */
  install: string[];
  /** Airflow's pins for this version (`-c`): tried first, dropped when the requirements disagree with them. */
  constraints?: string;
  cwd?: string;
  /** For progress lines and errors. */
  what: string;
  /** A failed install said at the line it is about, where it can be (a runtime's `requirements`). */
  explain?: (tail: string) => EngineError | undefined;
  /** For people: where the interpreter came from. */
  origin: string;
}

/** A virtualenv per recipe, built once (with uv: seconds, not minutes) and reused. */
async function buildVenv(recipe: VenvRecipe, asked: WorkOptions): Promise<Interpreter> {
  // shared by every request that waits for it (once): one request's cancel must not end it for the others
  const options: WorkOptions = { onProgress: asked.onProgress, onBuildOutput: asked.onBuildOutput };
  const venv = cacheDir('venvs', recipe.key);
  const python = path.join(venv, 'bin', 'python');
  const done = path.join(venv, '.complete');
  const origin = `${recipe.origin}, venv ${venv}`;
  if (existsSync(done)) return { python, origin };
  // the editor and a CLI share this cache: one builds, the other waits for it rather than deleting it midway
  const release = await exclusiveLock(`${venv}.lock`, () => existsSync(done),
    (holder) => options.onProgress?.({ stage: 'venv', message: `waiting for process ${holder}, which builds this virtualenv` }));
  try {
    if (existsSync(done)) return { python, origin };
    return await buildVenvLocked(recipe, options, venv, python, done, origin);
  } finally {
    release();
  }
}

async function buildVenvLocked(recipe: VenvRecipe, options: WorkOptions, venv: string, python: string, done: string, origin: string): Promise<Interpreter> {
  rmSync(venv, { recursive: true, force: true });
  const base = recipe.base ?? which('python3') ?? which('python');
  if (!base) throw new EngineError('interpreter-missing', 'no python3 on PATH to build a virtualenv with', 'install Python 3.9+');
  const uv = await ensureUv(options);
  // the installer needs proxies and certificates, not the host's secrets: a requirements file's packages run code
  const env = hostEnvironment('installer');
  const started = Date.now();
  const step = async (message: string, command: string, args: string[]) => {
    options.onProgress?.({ stage: 'venv', message });
    const outcome = await runProcess(command, args, { env, signal: options.signal, cwd: recipe.cwd, onLine: (line) => {
      options.onProgress?.({ stage: 'venv', message: line });
      options.onBuildOutput?.(line);
    } });
    if (outcome.code !== 0) {
      rmSync(venv, { recursive: true, force: true });
      throw recipe.explain?.(outcome.tail) ?? new EngineError('venv-build-failed', `building the virtualenv for ${recipe.what} failed:\n${outcome.tail.slice(-3000)}`, 'fix the requirements (they must install apache-airflow), or check that PyPI can be reached');
    }
  };
  const install = (extra: string[]) => uv
    // bytecode compiled once here: the harness runs with PYTHONDONTWRITEBYTECODE, so every start would compile Airflow
    ? step(`installing ${recipe.what} with uv${extra.length ? ' and Airflow\'s pins' : ''}`, uv, ['pip', 'install', '--quiet', '--compile-bytecode', '--python', python, ...recipe.install, ...extra])
    : step(`installing ${recipe.what} with pip (uv could not be had: this takes minutes)`, python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...recipe.install, ...extra]);
  if (uv) await step(`creating a virtualenv in ${venv}`, uv, ['venv', '--quiet', '--python', base, venv]);
  else await step(`creating a virtualenv in ${venv}`, base, ['-m', 'venv', venv]);
  if (recipe.constraints) {
    try {
      await install(['-c', recipe.constraints]);
    } catch {
      options.onProgress?.({ stage: 'venv', message: `${recipe.what} disagrees with Airflow's pins (${path.basename(recipe.constraints)}): installing it without them` });
      await step(`creating a virtualenv in ${venv}`, uv ?? base, uv ? ['venv', '--quiet', '--python', base, venv] : ['-m', 'venv', venv]);
      await install([]);
    }
  } else {
    await install([]);
  }
  writeFileSync(done, new Date().toISOString());
  options.onProgress?.({ stage: 'venv', message: `built ${venv} in ${Math.round((Date.now() - started) / 1000)} s` });
  return { python, origin };
}
