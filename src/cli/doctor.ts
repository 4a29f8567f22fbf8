import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectDocker, type DockerConnection } from '../core/engine/docker/connect';
import { engineErrorOf } from '../core/engine/errors';
import { localFallbackOf } from '../core/engine/embeddedDefault';
import { localSandbox } from '../core/engine/local/sandbox';
import { which } from '../core/engine/local/which';
import { declaredAirflowOf, DEFAULT_IMAGE } from '../core/runtime/declaredAirflow';
import type { RuntimeValues } from '../core/runtime/values';
import { findDagFiles } from '../core/workspace/dagFiles';
import { dagFileJudge, runtimeFor } from './runtimeFor';
import { EXIT } from './usage';

export const DOCTOR_HELP = `Usage: airflow-runtime doctor [--workspace DIR]

Checks what parsing and running need: the Docker engine and which endpoint answers, the images that the
runtimes under the current folder name, and the local interpreters with their Airflow versions.
Each line says OK, or what to do.

Exit codes: 0 at least one engine can parse here; 2 none can.`;

/** The Airflow version of an interpreter, without importing Airflow (that takes seconds). */
function airflowVersionOf(python: string): string | undefined {
  const probe = spawnSync(python, ['-c', 'import importlib.metadata as m\nfor d in ("apache-airflow", "apache-airflow-core"):\n  try:\n    print(m.version(d)); break\n  except m.PackageNotFoundError: pass'], { encoding: 'utf8', timeout: 15_000 });
  return probe.status === 0 && probe.stdout.trim() ? probe.stdout.trim() : undefined;
}

export async function doctorCommand(args: string[], out: (line: string) => void): Promise<number> {
  const { values: flags } = parseArgs({ args, strict: true, options: { workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (flags.help) {
    out(DOCTOR_HELP);
    return EXIT.ok;
  }
  const ok = (what: string, detail: string) => out(`OK    ${what}: ${detail}`);
  const bad = (what: string, detail: string, todo: string) => out(`FIX   ${what}: ${detail}\n      what to do: ${todo}`);
  const note = (what: string, detail: string) => out(`NOTE  ${what}: ${detail}`);

  let docker: DockerConnection | undefined;
  try {
    docker = await connectDocker();
    ok('docker', `${docker.endpoint.url} (${docker.endpoint.origin}), engine ${docker.version}${docker.local ? '' : ', remote'}`);
  } catch (error) {
    // not a FIX by itself: every runtime below says whether the local runtime emulator can run it instead
    note('docker', `${engineErrorOf(error).message.replace(/\n/g, '\n      ')}\n      DAG files run on the local runtime emulator (below); start Docker to run them in their images`);
  }

  const cwd = process.cwd();
  const { files } = findDagFiles([cwd], dagFileJudge({ cwd, workspace: flags.workspace }));
  const runtimes = new Map<string, { values: RuntimeValues; files: number; runtime: ReturnType<typeof runtimeFor> }>();
  for (const file of files) {
    const runtime = runtimeFor(file, { cwd, workspace: flags.workspace });
    const { values } = runtime;
    const key = JSON.stringify([values.build ? `build ${values.build.context}` : values.image ?? DEFAULT_IMAGE, values.local ?? null]);
    const entry = runtimes.get(key) ?? { values, files: 0, runtime };
    entry.files++;
    runtimes.set(key, entry);
  }
  out(`      ${files.length} DAG file${files.length === 1 ? '' : 's'} under ${cwd}`);
  let unready = 0;
  for (const { values, files: count, runtime } of runtimes.values()) {
    const image = values.build ? `a build of ${values.build.context}` : values.image ?? DEFAULT_IMAGE;
    const what = `runtime ${image} (${count} DAG file${count === 1 ? '' : 's'})`;
    const fallback = localFallbackOf(runtime);
    if (docker) {
      if (values.build) {
        note(what, 'built from its Dockerfile on first use');
      } else if (await docker.docker.getImage(image).inspect().then(() => true, () => false)) {
        ok(what, 'image present');
      } else if (fallback) {
        note(what, `image missing: pulled on first use${values.pull === 'never' ? ' (no: pull: never)' : ''}; where it cannot be had, the embedded default runs it on ${fallback}`);
      } else if (values.pull === 'never') {
        unready++;
        bad(what, 'image missing, and the runtime says pull: never', `build or load ${image}, set pull: missing, or give the runtime file local.requirements`);
      } else {
        note(what, 'image missing: pulled on first use (without a registry, build it or give the runtime file local.requirements)');
      }
      continue;
    }
    const local = localReadiness(values);
    if (local.ready) ok(what, `local runtime emulator: ${local.detail}`);
    else {
      unready++;
      bad(what, `local runtime emulator: ${local.detail}`, local.todo ?? '');
    }
  }
  note('local sandbox', localSandbox().describe);
  const ready = unready === 0 && (!!docker || runtimes.size > 0 || files.length === 0);
  out(ready ? 'ready: DAG files can be parsed here' : 'not ready: no engine can parse these DAG files yet (see FIX above)');
  return ready ? EXIT.ok : EXIT.configOrInfra;
}

/** What the local emulator will use for a runtime, and whether it can. */
function localReadiness(values: RuntimeValues): { ready: boolean; detail: string; todo?: string } {
  const python = values.local?.python;
  if (python) {
    const version = existsSync(python) || which(python) ? airflowVersionOf(python) : undefined;
    return version ? { ready: true, detail: `local.python ${python}, Airflow ${version}` }
      : { ready: false, detail: `local.python ${python} has no Airflow`, todo: 'point local.python at an interpreter that has apache-airflow installed' };
  }
  const requirements = values.local?.requirements;
  if (requirements) {
    return existsSync(requirements) ? { ready: true, detail: `a venv from ${requirements}, built on first use (cached)` }
      : { ready: false, detail: `local.requirements ${requirements} is missing`, todo: 'fix the path in the runtime file' };
  }
  const declared = declaredAirflowOf(values);
  if (declared) return { ready: true, detail: `the embedded default, a local Airflow ${declared.version} (from ${declared.source}), built on first use with uv (cached)` };
  const python3 = which('python3');
  const version = python3 ? airflowVersionOf(python3) : undefined;
  return version ? { ready: true, detail: `python3 on PATH (${python3}), Airflow ${version}` }
    : { ready: false, detail: 'the runtime names no Airflow version (its image tag says none) and python3 on PATH has no Airflow', todo: 'start Docker, or give the runtime file local.requirements (a file with apache-airflow==X)' };
}
