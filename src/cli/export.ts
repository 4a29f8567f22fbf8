import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { version } from '../../package.json';
import { BUNDLE_CONFIG_FILE, bundleConfigText, COMMANDS_FILE, deployCommandsText, WORKER_MODES, type WorkerMode } from '../core/export/fragments';
import { buildManifest, type Manifest, MANIFEST_FILE, manifestText, type RuntimeFacts } from '../core/export/manifest';
import { WriteError, writeFilesAtomically } from '../core/export/write';
import { describeFailure, engineErrorOf } from '../core/engine/errors';
import { compareProblems, hasErrors, type Problem } from '../core/problems';
import { isInside } from '../core/runtime/checks';
import type { EffectiveRuntime } from '../core/runtime/resolve';
import { findDagFiles } from '../core/workspace/dagFiles';
import { hostDagRoot } from '../core/workspace/projectLayout';
import { displayPath, formatProblems } from './display';
import { terminalProgress } from './progress';
import { dagFileJudge, hostAccessOf, runtimeFor } from './runtimeFor';
import { EXIT, UsageError } from './usage';

export const DEFAULT_OUT = 'airflow-runtime-export';

export const EXPORT_HELP = `Usage: airflow-runtime export [PATH] [--out DIR] [--push REGISTRY] [--workers per-image|lean] [--deployment-dags-folder PATH] [--json] [--workspace DIR]

Resolves the runtime of every DAG file under PATH (the project root; default: the current folder) and writes
what a real Airflow deployment needs to parse and run each DAG file in its own runtime. Nothing is parsed and no
container is started; Docker, when it answers, is only asked for each image's digest.

Written in --out (default PATH/${DEFAULT_OUT}/), the same bytes on every run over unchanged files:
  ${MANIFEST_FILE}   the production manifest (airflow-runtime/manifest@1, media/manifest.schema.json):
                                  each DAG file's runtime id; each runtime's image, digest, queue, executor, env
                                  (secrets as null: the deployment supplies them), resources and parse bundles
  ${BUNDLE_CONFIG_FILE}     Airflow 3's [dag_processor] dag_bundle_config_list: a LocalDagBundle per bundle
  ${COMMANDS_FILE}              the commands per runtime: Airflow 3 \`dag-processor --bundle-name\`, Airflow 2
                                  \`dag-processor --subdir\`, \`celery worker --queues <queue>\`

A bundle is a folder all of whose DAG files, at any depth, share one runtime. Airflow splits parsing by folder only,
so a folder whose own DAG files have different runtimes (or that has a subfolder of another runtime) is refused,
at the runtime file's line that makes the difference, with a layout that works.

Options:
  --out DIR                       where to write (default: PATH/${DEFAULT_OUT})
  --deployment-dags-folder PATH   the DAGs folder's absolute path in the deployment, for the bundles' paths
                                  (default: the runtimes' dagsFolder, /opt/airflow/dags unless a runtime file says)
  --json                          print the manifest on stdout instead of the summary
  --push REGISTRY                 push each image built from a runtime's requirements to REGISTRY (host:port[/path])
                                  and name the pushed image, with its digest, in the manifest
  --workers per-image|lean        how the Celery workers reach a task's image (the worker lines of the commands):
                                  per-image (default): one worker pool per runtime, in its image, on its queue
                                  (Airflow 2 and 3); lean: identical lean workers that launch every task in its
                                  runtime's image (Airflow 3; airflow-runtime-policy[launcher], a Docker socket)
  --workspace DIR                 the project root (default: found from the files, the same from any folder: the nearest folder with .git, .vscode, .astro or dags/ beside include/ or plugins/, else the topmost airflow-runtime.yaml)
  --allow-host-access             read runtime files as if host access were allowed (also AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1)

Exit codes: 0 written; 2 a runtime file has errors, a folder mixes runtimes, two images share a queue, no DAG
files, the files cannot be written (then the ones there are left as they were), or bad usage.`;

export async function exportCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      out: { type: 'string' }, 'deployment-dags-folder': { type: 'string' }, json: { type: 'boolean' }, push: { type: 'string' }, workers: { type: 'string' },
      workspace: { type: 'string' }, 'allow-host-access': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    out(EXPORT_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new UsageError('export takes one project folder', 'export');
  const cwd = process.cwd();
  const projectRoot = path.resolve(positionals[0] ?? '.');
  if (!isFolder(projectRoot)) throw new UsageError(`no such folder: ${positionals[0]}`, 'export');
  const workers = (flags.workers ?? 'per-image') as WorkerMode;
  if (!WORKER_MODES.includes(workers)) throw new UsageError(`--workers is per-image or lean, not "${flags.workers}"`, 'export');
  const deploymentFolder = flags['deployment-dags-folder'];
  if (deploymentFolder !== undefined && !deploymentFolder.startsWith('/')) {
    throw new UsageError(`--deployment-dags-folder must be an absolute path in the deployment (/opt/airflow/dags), not "${deploymentFolder}"`, 'export');
  }

  const where = { cwd, workspace: flags.workspace, hostAccess: hostAccessOf(flags['allow-host-access']) };
  const { files } = findDagFiles([projectRoot], dagFileJudge(where));
  if (files.length === 0) {
    err(`airflow-runtime: no DAG files under ${displayPath(projectRoot, cwd)} (as Airflow finds them): nothing to export`);
    return EXIT.configOrInfra;
  }
  const resolved = files.map((file) => ({ file, runtime: runtimeFor(file, where) }));
  const runtimeProblems = uniqueProblems(resolved.flatMap((r) => r.runtime.problems));
  for (const line of formatProblems(runtimeProblems, cwd)) err(line);
  if (hasErrors(runtimeProblems)) {
    err('airflow-runtime: nothing written: fix the runtime files above (a manifest without those values would run DAG files in the wrong runtime)');
    return EXIT.configOrInfra;
  }

  if (!await withBuiltImages(resolved, cwd, err, flags.push)) return EXIT.configOrInfra;
  const dagRoot = dagRootOf(resolved, projectRoot, cwd);
  const show = (file: string) => displayPath(file, cwd);
  const digests = await imageDigests(new Set(resolved.map((r) => r.runtime.values.image ?? '')));
  const { manifest, facts, problems } = buildManifest({ files: resolved, projectRoot, dagRoot, digests, generator: `airflow-runtime ${version}`, show });
  for (const line of formatProblems(problems, cwd)) err(line);
  if (!manifest) {
    err(`airflow-runtime: nothing written: ${problems.length === 1 ? 'the folder above mixes' : 'the folders above mix'} runtimes, which Airflow cannot parse apart`);
    return EXIT.configOrInfra;
  }

  const airflow2 = manifest.runtimes.filter((runtime) => facts.get(runtime.id)?.airflowMajor === 2);
  if (workers === 'lean' && airflow2.length) {
    err(`airflow-runtime: nothing written: lean workers launch tasks through Airflow 3's Execution API, and ${airflow2.map((r) => r.id).join(', ')} ${airflow2.length === 1 ? 'runs' : 'run'} Airflow 2: use --workers per-image (one worker pool per runtime image) for ${airflow2.length === 1 ? 'it' : 'them'}`);
    return EXIT.configOrInfra;
  }
  const deploymentDagsFolder = deploymentFolder ?? commonDagsFolder(facts);
  const outDir = path.resolve(flags.out ?? path.join(projectRoot, DEFAULT_OUT));
  try {
    writeFilesAtomically(outDir, {
      [MANIFEST_FILE]: manifestText(manifest),
      [BUNDLE_CONFIG_FILE]: bundleConfigText(manifest, deploymentDagsFolder),
      [COMMANDS_FILE]: deployCommandsText(manifest, facts, deploymentDagsFolder, workers),
    });
  } catch (error) {
    if (!(error instanceof WriteError)) throw error;
    err(`airflow-runtime: nothing written: ${error.message}; the files in ${displayPath(outDir, cwd)} are as they were (free some space, or choose another folder with --out)`);
    return EXIT.configOrInfra;
  }

  for (const line of ignoreFilesAboveBundles(manifest, dagRoot, cwd)) err(line);
  const majors = new Set([...facts.values()].map((f) => f.airflowMajor));
  if (majors.size > 1) {
    err(`note: the runtimes run Airflow ${[...majors].sort().join(' and ')}; one deployment runs one Airflow version, so its DAG processors and workers use the runtimes of that version (the others need a deployment of their own)`);
  }
  if (flags.json) out(manifestText(manifest).trimEnd());
  else for (const line of summary(manifest, facts, path.relative(cwd, outDir) || '.', deploymentDagsFolder, workers)) out(line);
  return EXIT.ok;
}

function isFolder(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A problem of a runtime file is found once per DAG file it applies to: said once. */
function uniqueProblems(problems: Problem[]): Problem[] {
  const seen = new Map<string, Problem>();
  for (const p of problems) seen.set(`${p.file}:${p.start.line}:${p.start.column}:${p.code}:${p.message}`, p);
  return [...seen.values()].sort(compareProblems);
}

/** The one DAGs folder the files are in (a project's `dags/`, else the workspace), inside the project root. */
function dagRootOf(resolved: { file: string; runtime: EffectiveRuntime }[], projectRoot: string, cwd: string): string {
  const roots = [...new Set(resolved.map(({ file, runtime }) => hostDagRoot(file, runtime.workspaceRoot)))].sort();
  if (roots.length > 1) {
    throw new UsageError(`${displayPath(projectRoot, cwd)} holds more than one DAGs folder (${roots.map((r) => displayPath(r, cwd)).join(', ')}): export each project on its own`, 'export');
  }
  if (!isInside(projectRoot, roots[0])) {
    throw new UsageError(`${displayPath(projectRoot, cwd)} is inside the DAGs folder ${displayPath(roots[0], cwd)}: export the whole project (airflow-runtime export ${path.relative(cwd, path.dirname(roots[0])) || '.'}), since a manifest of part of it would leave the rest unrouted`, 'export');
  }
  return roots[0];
}

function commonDagsFolder(facts: ReadonlyMap<string, RuntimeFacts>): string {
  const folders = [...new Set([...facts.values()].map((f) => f.dagsFolder))].sort();
  if (folders.length > 1) {
    throw new UsageError(`the runtimes name different dagsFolder values (${folders.join(', ')}): say where the deployment keeps the DAGs folder with --deployment-dags-folder`, 'export');
  }
  return folders[0];
}

/**
 * Runtimes of `image` plus `requirements`/`packages` run their built image in production too: it is built here if it
 * is not yet (Docker needed), and the manifest names it. False (said) when it cannot be built.
 */
async function withBuiltImages(resolved: { runtime: EffectiveRuntime }[], cwd: string, err: (line: string) => void, registry?: string): Promise<boolean> {
  const { hasAdditions } = await import('../core/engine/docker/requirementsImage');
  const { pushBuiltImage } = await import('../core/engine/docker/builtImages');
  if (!resolved.some((r) => hasAdditions(r.runtime.values))) return true;
  const [{ connectDocker }, { ensureImage }] = await Promise.all([import('../core/engine/docker/connect'), import('../core/engine/docker/images')]);
  const progress = terminalProgress();
  try {
    const { docker } = await connectDocker();
    for (const entry of resolved) {
      if (!hasAdditions(entry.runtime.values)) continue;
      const image = await ensureImage(docker, entry.runtime.values, new Set(), { runtime: entry.runtime, onProgress: progress.report });
      entry.runtime = { ...entry.runtime, values: { ...entry.runtime.values, image } };
    }
    // each built image once, however many runtimes share it; the manifest then names the pushed one (and its digest)
    const pushed = new Map<string, string>();
    for (const entry of registry ? resolved : []) {
      const built = entry.runtime.values.image!;
      if (!hasAdditions(entry.runtime.values)) continue;
      if (!pushed.has(built)) pushed.set(built, (await pushBuiltImage(docker, built, registry!, { onProgress: progress.report })).name);
      entry.runtime = { ...entry.runtime, values: { ...entry.runtime.values, image: pushed.get(built)! } };
    }
    return true;
  } catch (error) {
    const failure = engineErrorOf(error);
    for (const line of formatProblems(failure.problems ?? [], cwd)) err(line);
    err(`airflow-runtime: nothing written: a runtime's image (its image plus requirements) could not be built: ${describeFailure(failure)}`);
    return false;
  } finally {
    progress.clear();
  }
}

/** Each image's repo digest when a Docker engine answers; null for all when none does (export never needs Docker). */
async function imageDigests(images: Set<string>): Promise<Map<string, string | null>> {
  const digests = new Map<string, string | null>([...images].map((image) => [image, null]));
  try {
    const [{ connectDocker }, { repoDigestOf }] = await Promise.all([import('../core/engine/docker/connect'), import('../core/engine/docker/images')]);
    const { docker } = await connectDocker(undefined, 1500);
    for (const image of images) {
      if (image) digests.set(image, await Promise.race([repoDigestOf(docker, image), new Promise<null>((resolve) => setTimeout(resolve, 5000, null).unref())]));
    }
  } catch {
    // no engine: digests stay unknown
  }
  return digests;
}

function summary(manifest: Manifest, facts: ReadonlyMap<string, RuntimeFacts>, outShown: string, deploymentDagsFolder: string, workers: WorkerMode): string[] {
  const bundles = manifest.runtimes.reduce((n, r) => n + r.bundles.length, 0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines = [`${plural(manifest.files.length, 'DAG file')} in ${manifest.dagsFolder}/: ${plural(manifest.runtimes.length, 'runtime')}, ${plural(bundles, 'bundle')} (deployed at ${deploymentDagsFolder})`];
  for (const runtime of manifest.runtimes) {
    const secrets = Object.keys(runtime.env).filter((name) => runtime.env[name] === null);
    lines.push(`${runtime.id}: ${runtime.image} (${runtime.digest ?? 'no digest'}), Airflow ${facts.get(runtime.id)?.airflowMajor}, queue ${runtime.queue}${runtime.executor ? `, executor ${runtime.executor}` : ''}`);
    for (const bundle of runtime.bundles) {
      const count = manifest.files.filter((f) => f.runtime === runtime.id && (bundle.path === '.' || f.path.startsWith(`${bundle.path}/`))).length;
      lines.push(`  bundle ${bundle.name}: ${bundle.path === '.' ? `${manifest.dagsFolder}/` : `${bundle.path}/`} (${plural(count, 'DAG file')})`);
    }
    if (secrets.length) lines.push(`  secrets the deployment supplies: ${secrets.join(', ')}`);
  }
  lines.push(workers === 'lean' ? 'workers: lean (one pool of identical workers launches each task in its runtime\'s image)' : 'workers: per-image (one worker pool per runtime, in its image, on its queue)');
  lines.push(`wrote ${outShown}/${MANIFEST_FILE}, ${BUNDLE_CONFIG_FILE}, ${COMMANDS_FILE}`);
  return lines;
}

/**
 * Airflow reads a bundle's `.airflowignore` files from the bundle's folder down: one above a bundle (in the DAGs
 * folder, say) excludes files here and in the editor but not in that bundle's processor.
 */
function ignoreFilesAboveBundles(manifest: Manifest, dagRoot: string, cwd: string): string[] {
  const notes: string[] = [];
  for (const bundle of manifest.runtimes.flatMap((r) => r.bundles)) {
    if (bundle.path === '.') continue;
    const parts = bundle.path.split('/');
    for (let depth = 0; depth < parts.length; depth++) {
      const file = path.join(dagRoot, ...parts.slice(0, depth), '.airflowignore');
      if (existsSync(file)) {
        notes.push(`note: ${displayPath(file, cwd)} is above the bundle ${bundle.path}/: Airflow reads a bundle's .airflowignore files from its own folder down, so its patterns for ${bundle.path}/ belong in ${bundle.path}/.airflowignore`);
      }
    }
  }
  return [...new Set(notes)];
}
