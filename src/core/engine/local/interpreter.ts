import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isPathLike } from '../../runtime/checks';
import type { RuntimeValues } from '../../runtime/values';
import { cacheDir } from '../cache';
import { EngineError } from '../errors';
import { runProcess } from '../processTree';
import type { WorkOptions } from '../types';
import { hostEnvironment } from './hostEnvironment';

/** Finds a command on PATH, as a shell would. */
export function which(command: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface Interpreter {
  python: string;
  /** How it was chosen, for people. */
  origin: string;
}

const building = new Map<string, Promise<Interpreter>>();

/** The interpreter for a runtime: `local.python`, a venv built from `local.requirements`, or `python3` on PATH. */
export async function resolveInterpreter(values: RuntimeValues, options: WorkOptions = {}): Promise<Interpreter> {
  const local = values.local;
  if (local?.python) {
    const python = isPathLike(local.python) ? local.python : which(local.python);
    if (!python || !existsSync(python)) {
      throw new EngineError('interpreter-missing', `local.python "${local.python}" was not found`, 'point local.python at an interpreter that has Airflow installed');
    }
    return { python, origin: `local.python ${python}` };
  }
  if (local?.requirements) {
    const key = venvKey(local.requirements);
    const pending = building.get(key) ?? buildVenv(local.requirements, key, options);
    building.set(key, pending);
    try {
      return await pending;
    } finally {
      building.delete(key);
    }
  }
  const python = which('python3') ?? which('python');
  if (!python) throw new EngineError('interpreter-missing', 'no python3 on PATH', 'install Python 3.9+ with Airflow, or set local.python in the runtime file');
  return { python, origin: `python3 on PATH (${python}); set local.python or local.requirements to choose` };
}

function venvKey(requirements: string): string {
  let text: string;
  try {
    text = readFileSync(requirements, 'utf8');
  } catch {
    throw new EngineError('bad-runtime', `cannot read local.requirements ${requirements}`, 'fix the path in the runtime file');
  }
  return createHash('sha256').update(requirements).update('\0').update(text).digest('hex').slice(0, 16);
}

/** A virtualenv per requirements file and content, built once (uv when present: much faster) and reused. */
async function buildVenv(requirements: string, key: string, options: WorkOptions): Promise<Interpreter> {
  const venv = cacheDir('venvs', key);
  const python = path.join(venv, 'bin', 'python');
  const done = path.join(venv, '.complete');
  const origin = `venv ${venv} from ${requirements}`;
  if (existsSync(done)) return { python, origin };
  rmSync(venv, { recursive: true, force: true });
  const base = which('python3') ?? which('python');
  if (!base) throw new EngineError('interpreter-missing', 'no python3 on PATH to build a virtualenv with', 'install Python 3.9+');
  const uv = which('uv');
  // the installer needs proxies and certificates, not the host's secrets: a requirements file's packages run code
  const env = hostEnvironment('installer');
  const step = async (message: string, command: string, args: string[]) => {
    options.onProgress?.({ stage: 'venv', message });
    const outcome = await runProcess(command, args, { env, signal: options.signal, cwd: path.dirname(requirements), onLine: (line) => options.onProgress?.({ stage: 'venv', message: line }) });
    if (outcome.code !== 0) {
      rmSync(venv, { recursive: true, force: true });
      throw new EngineError('venv-build-failed', `building the virtualenv from ${requirements} failed:\n${outcome.tail.slice(-3000)}`, 'fix the requirements file (it must install apache-airflow)');
    }
  };
  if (uv) {
    await step(`creating a virtualenv with uv in ${venv}`, uv, ['venv', '--quiet', '--python', base, venv]);
    await step(`installing ${path.basename(requirements)} with uv`, uv, ['pip', 'install', '--quiet', '--python', python, '-r', requirements]);
  } else {
    await step(`creating a virtualenv in ${venv}`, base, ['-m', 'venv', venv]);
    await step(`installing ${path.basename(requirements)} with pip (install uv to make this faster)`, python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements]);
  }
  writeFileSync(done, new Date().toISOString());
  return { python, origin };
}
