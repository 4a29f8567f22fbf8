import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectDocker, type DockerConnection } from '../core/engine/docker/dockerEngine';
import { engineErrorOf } from '../core/engine/errors';
import { which } from '../core/engine/local/interpreter';
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
    const failure = engineErrorOf(error);
    bad('docker', failure.message.replace(/\n/g, '\n      '), failure.hint ?? '');
  }

  const cwd = process.cwd();
  const { files } = findDagFiles([cwd], dagFileJudge({ cwd, workspace: flags.workspace }));
  const images = new Map<string, { pull: string; files: number; build: boolean }>();
  const locals = new Map<string, string>();
  let localReady = false;
  for (const file of files) {
    const { values } = runtimeFor(file, { cwd, workspace: flags.workspace });
    const key = values.build ? `build ${values.build.context}` : values.image!;
    const entry = images.get(key) ?? { pull: values.pull ?? 'missing', files: 0, build: !!values.build };
    entry.files++;
    images.set(key, entry);
    if (values.local?.python) locals.set(`local.python ${values.local.python}`, values.local.python);
    if (values.local?.requirements) locals.set(`local.requirements ${values.local.requirements}`, '');
  }
  out(`      ${files.length} DAG file${files.length === 1 ? '' : 's'} under ${cwd}`);
  let dockerReady = false;
  for (const [image, { pull, files: count, build }] of images) {
    const what = `image ${image} (${count} DAG file${count === 1 ? '' : 's'})`;
    if (build) {
      note(what, 'built from its Dockerfile on first use');
      dockerReady = !!docker;
    } else if (!docker) {
      note(what, 'not checked: Docker is not reachable');
    } else if (await docker.docker.getImage(image).inspect().then(() => true, () => false)) {
      ok(what, 'present');
      dockerReady = true;
    } else if (pull === 'never') {
      bad(what, 'missing, and the runtime says pull: never', `build or load ${image}, or set pull: missing`);
    } else {
      note(what, `missing: pulled on first use (pull: ${pull})`);
    }
  }
  for (const [what, python] of locals) {
    if (!python) {
      note(what, existsSync(what.slice('local.requirements '.length)) ? 'a virtualenv is built from it on first use (cached)' : 'file missing');
      localReady = true;
      continue;
    }
    const version = existsSync(python) || which(python) ? airflowVersionOf(python) : undefined;
    if (version) {
      ok(what, `Airflow ${version}`);
      localReady = true;
    } else {
      bad(what, 'no interpreter with Airflow there', 'point local.python at an interpreter that has apache-airflow installed');
    }
  }
  const python3 = which('python3');
  const version = python3 ? airflowVersionOf(python3) : undefined;
  if (version) {
    ok(`python3 on PATH (${python3})`, `Airflow ${version}`);
    localReady = true;
  } else {
    note(`python3 on PATH${python3 ? ` (${python3})` : ''}`, python3 ? 'no Airflow installed: the local engine needs local.python or local.requirements' : 'not found');
  }
  const ready = (!!docker && (dockerReady || images.size === 0)) || localReady;
  out(ready ? 'ready: DAG files can be parsed here' : 'not ready: no engine can parse these DAG files yet (see FIX above)');
  return ready ? EXIT.ok : EXIT.configOrInfra;
}
