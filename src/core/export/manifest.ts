import * as path from 'node:path';
import { type HardenedHostConfig, hardenedHostConfig } from '../engine/docker/hardening';
import { unprivilegedUser } from '../engine/docker/user';
import { runtimeEnvironment } from '../engine/environment';
import { FILE_START, type Problem } from '../problems';
import type { ShowPath } from '../runtime/describe';
import type { EffectiveRuntime, ValueSource } from '../runtime/resolve';
import { secretVariableNames } from '../runtime/secrets';
import type { RuntimeValues } from '../runtime/values';
import { type AirflowMajor, airflowMajorOf } from '../workspace/dagFiles';
import { bundleName, type MixedFolder, planBundles } from './bundles';
import { byCodePoint, runtimeId, type RuntimeIdentity } from './runtimeId';

export const MANIFEST_FORMAT = 'airflow-runtime/manifest@1';
export const MANIFEST_FILE = 'airflow-runtime-manifest.json';

/** The production manifest (media/manifest.schema.json): what the policy package and the deployment read. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  generator: string;
  /** The DAGs folder, relative to the project root, POSIX; `.` when it is the project root. */
  dagsFolder: string;
  runtimes: ManifestRuntime[];
  files: { path: string; runtime: string }[];
}

export interface ManifestRuntime {
  id: string;
  image: string;
  digest: string | null;
  queue: string;
  executor: string | null;
  /** Name → value; null for a secret, which the deployment supplies. */
  env: Record<string, string | null>;
  resources: { memory: string | number | null; cpus: number | null };
  bundles: { name: string; path: string }[];
  /** How the task launcher hardens its task containers: the rule our parse and run containers follow. */
  container: ManifestContainer;
}

export interface ManifestContainer {
  /** The runtime file's `user`; null: the image's own user, or `unprivileged` where that is root. */
  user: string | null;
  unprivileged: { user: string; env: Record<string, string> };
  hostConfig: HardenedHostConfig;
}

/** What the deployment fragments need to know of a runtime besides the manifest. */
export interface RuntimeFacts {
  airflowMajor: AirflowMajor;
  /** The runtime's `dagsFolder`: where its image expects the DAGs. */
  dagsFolder: string;
}

export interface ExportInput {
  files: readonly { file: string; runtime: EffectiveRuntime }[];
  /** The folder `export` is run for; `dagsFolder` is relative to it. */
  projectRoot: string;
  /** The DAGs folder on the host; file and bundle paths are relative to it. */
  dagRoot: string;
  /** Repo digests by image, as the engine knows them (null: unknown). */
  digests: ReadonlyMap<string, string | null>;
  generator: string;
  show: ShowPath;
}

export interface ExportOutcome {
  /** Undefined when there are errors: a wrong manifest would route DAG files to the wrong runtime. */
  manifest?: Manifest;
  facts: Map<string, RuntimeFacts>;
  problems: Problem[];
}

interface Entry {
  file: string;
  relative: string;
  runtime: EffectiveRuntime;
  id: string;
  env: Record<string, string>;
}

/** The manifest of a DAGs folder: each DAG file's runtime id, each runtime's image, queue, env and parse bundles. */
export function buildManifest(input: ExportInput): ExportOutcome {
  const problems: Problem[] = [];
  const entries: Entry[] = [];
  for (const { file, runtime } of input.files) {
    let env: Record<string, string>;
    try {
      env = runtimeEnvironment(runtime.values);
    } catch (error) {
      problems.push(problemAt(runtime.sources.envFile, file, (error as Error).message));
      continue;
    }
    const relative = posixRelative(input.dagRoot, file);
    entries.push({ file, relative, runtime, env, id: runtimeId(identityOf(runtime.values, env, input)) });
  }

  const byId = new Map<string, Entry[]>();
  for (const entry of entries) byId.set(entry.id, [...(byId.get(entry.id) ?? []), entry]);
  for (const group of byId.values()) problems.push(...resourceConflicts(group, input.show));
  problems.push(...queueConflicts(byId, input.show));

  const plan = planBundles(entries.map((e) => ({ path: e.relative, runtime: e.id })));
  const entryOf = new Map(entries.map((e) => [e.relative, e]));
  for (const mixed of plan.mixed) problems.push(...mixedFolderProblems(mixed, entryOf, input));

  const facts = new Map<string, RuntimeFacts>();
  for (const [id, [first]] of byId) facts.set(id, { airflowMajor: airflowMajorOf(first.runtime.values), dagsFolder: first.runtime.values.dagsFolder ?? '/opt/airflow/dags' });
  if (problems.some((p) => p.severity === 'error')) return { facts, problems };

  const runtimes = [...byId.entries()].sort(([a], [b]) => byCodePoint(a, b)).map(([id, [first]]): ManifestRuntime => {
    const values = first.runtime.values;
    const secrets = secretVariableNames(first.env);
    return {
      id,
      image: values.image ?? '',
      digest: input.digests.get(values.image ?? '') ?? null,
      queue: values.deploy?.queue ?? `airflow-runtime-${id}`,
      executor: values.deploy?.executor ?? null,
      env: Object.fromEntries(Object.keys(first.env).sort(byCodePoint).map((name) => [name, secrets.has(name) ? null : first.env[name]])),
      resources: { memory: values.resources?.memory ?? null, cpus: values.resources?.cpus ?? null },
      bundles: plan.bundles.filter((b) => b.runtime === id).map((b) => ({ name: bundleName(b), path: b.path })),
      container: { user: values.user === undefined ? null : String(values.user), unprivileged: unprivilegedUser(), hostConfig: hardenedHostConfig(values.resources) },
    };
  });
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    generator: input.generator,
    dagsFolder: posixRelative(input.projectRoot, input.dagRoot) || '.',
    runtimes,
    files: entries.map((e) => ({ path: e.relative, runtime: e.id })).sort((a, b) => byCodePoint(a.path, b.path)),
  };
  return { manifest, facts, problems };
}

/** The manifest's bytes: keys in the schema's order, two-space indent, a final newline; nothing that changes by itself. */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

function identityOf(values: RuntimeValues, env: Record<string, string>, input: ExportInput): RuntimeIdentity {
  return {
    image: values.image ?? '',
    env,
    pythonPath: (values.pythonPath ?? []).map((folder) => posixRelative(input.projectRoot, folder) || '.'),
    airflowConfig: values.airflowConfig ?? {},
    deploy: values.deploy,
  };
}

function posixRelative(from: string, to: string): string {
  return path.relative(from, to).split(path.sep).join('/');
}

function problemAt(source: ValueSource | undefined, fallbackFile: string, message: string): Problem {
  if (source?.kind === 'file') {
    const at = { line: source.line, column: source.column };
    return { file: source.file, severity: 'error', code: 'conflict', message, start: at, end: at };
  }
  return { file: fallbackFile, severity: 'error', code: 'conflict', message, start: FILE_START, end: FILE_START };
}

/** A runtime has one set of resources in production (one worker, one pod spec): files of one runtime must agree. */
function resourceConflicts(group: Entry[], show: ShowPath): Problem[] {
  const sorted = [...group].sort((a, b) => byCodePoint(a.relative, b.relative));
  const text = (e: Entry) => JSON.stringify(e.runtime.values.resources ?? {});
  const [first] = sorted;
  const other = sorted.find((e) => text(e) !== text(first));
  if (!other) return [];
  const of = (e: Entry, k: 'memory' | 'cpus') => JSON.stringify(e.runtime.values.resources?.[k] ?? null);
  const key = `resources.${(['memory', 'cpus'] as const).find((k) => of(other, k) !== of(first, k)) ?? 'memory'}`;
  const rank = (e: Entry) => {
    const source = e.runtime.sources[key];
    return source?.kind === 'file' ? e.runtime.files.findIndex((f) => f.path === source.file) : -1;
  };
  // Said at the more specific of the two settings, about the file it belongs to.
  const [subject, peer] = rank(other) > rank(first) ? [other, first] : [first, other];
  return [problemAt(subject.runtime.sources[key], subject.file,
    `\`${key}\` differs between ${show(subject.file)} and ${show(peer.file)}, which have the same runtime (${first.id}): in production a runtime has one set of resources (one worker, one pod spec); give them the same resources, or make ${show(subject.file)} a runtime of its own (\`deploy.queue\`)`)];
}

/**
 * One queue, one image: a Celery worker listens on queues and runs in one image (or launches the one its manifest
 * names for the queue), so two runtimes with different images on one `deploy.queue` would take each other's tasks.
 * Said at the later runtime's `deploy.queue` line.
 */
function queueConflicts(byId: ReadonlyMap<string, Entry[]>, show: ShowPath): Problem[] {
  const firstOnQueue = new Map<string, Entry>();
  const problems: Problem[] = [];
  const ordered = [...byId.values()].map((group) => [...group].sort((a, b) => byCodePoint(a.relative, b.relative))[0])
    .sort((a, b) => byCodePoint(a.relative, b.relative));
  for (const entry of ordered) {
    const queue = entry.runtime.values.deploy?.queue;
    if (queue === undefined) continue;
    const first = firstOnQueue.get(queue);
    if (!first) {
      firstOnQueue.set(queue, entry);
    } else if ((first.runtime.values.image ?? '') !== (entry.runtime.values.image ?? '')) {
      problems.push(problemAt(entry.runtime.sources['deploy.queue'], entry.file,
        `\`deploy.queue\` ${queue} of ${show(entry.file)} (image ${entry.runtime.values.image}) is also the queue of ${show(first.file)} (image ${first.runtime.values.image}): ` +
        'a queue\'s workers run one image, so each would take the other\'s tasks; give each image its own queue'));
    }
  }
  return problems;
}

/** Where two runtimes differ, at the most specific runtime-file line that makes the difference (`prefer`'s first). */
function differenceOf(base: EffectiveRuntime, prefer: EffectiveRuntime): { key: string; source?: ValueSource } | undefined {
  const a = identityEntries(base.values);
  const b = identityEntries(prefer.values);
  const differing = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  let best: { key: string; source?: ValueSource; rank: number } | undefined;
  for (const key of differing) {
    for (const [runtime, bonus] of [[prefer, 1000], [base, 0]] as const) {
      const source = runtime.sources[key];
      if (source?.kind !== 'file') continue;
      const rank = bonus + runtime.files.findIndex((f) => f.path === source.file);
      if (!best || rank > best.rank) best = { key, source, rank };
    }
  }
  return best ?? (differing.length ? { key: differing[0] } : undefined);
}

/** The values that make a runtime's id, flattened to the keys `sources` uses (`env.TEAM`, `airflowConfig.core.x`). */
function identityEntries(values: RuntimeValues): Map<string, string> {
  const out = new Map<string, string>();
  const put = (key: string, value: unknown) => { if (value !== undefined) out.set(key, JSON.stringify(value)); };
  put('image', values.image);
  put('envFile', values.envFile);
  put('pythonPath', values.pythonPath);
  for (const field of ['env', 'variables', 'connections', 'deploy'] as const) {
    for (const [key, value] of Object.entries(values[field] ?? {})) put(`${field}.${key}`, value);
  }
  for (const [section, keys] of Object.entries(values.airflowConfig ?? {})) {
    for (const [key, value] of Object.entries(keys)) put(`airflowConfig.${section}.${key}`, value);
  }
  return out;
}

/**
 * A folder whose own DAG files cannot be one bundle: they have different runtimes, or a subfolder has another
 * runtime (a bundle of the folder would take the subfolder with it). Said at the runtime file's line that makes
 * the difference, with the layout that works.
 */
function mixedFolderProblems(mixed: MixedFolder, entryOf: Map<string, Entry>, input: ExportInput): Problem[] {
  const { show } = input;
  const folderShown = `${show(path.join(input.dagRoot, mixed.folder))}/`;
  const groups = new Map<string, Entry[]>();
  for (const file of mixed.direct) groups.set(file.runtime, [...(groups.get(file.runtime) ?? []), entryOf.get(file.path)!]);
  const problems: Problem[] = [];
  const stem = (e: Entry) => path.basename(e.file, '.py');
  const ownFile = (e: Entry) => e.runtime.files.find((f) => f.scope === 'dag');
  const suggest = (e: Entry) => `${show(path.join(path.dirname(e.file), stem(e)))}/`;

  if (groups.size > 1) {
    // The group that keeps the folder's own runtime (files without a runtime file of their own) stays; the others are odd.
    const ranked = [...groups.values()].sort((a, b) =>
      Number(b.some((e) => !ownFile(e))) - Number(a.some((e) => !ownFile(e))) || b.length - a.length || byCodePoint(a[0].relative, b[0].relative));
    const [base] = ranked;
    for (const odd of ranked.slice(1)) {
      const difference = differenceOf(base[0].runtime, odd[0].runtime);
      const which = difference ? `\`${difference.key}\` gives` : 'its runtime files give';
      const own = ownFile(odd[0]);
      const more = odd.length > 1 ? ` (and ${odd.length - 1} more of that runtime)` : '';
      problems.push(problemAt(difference?.source, odd[0].file,
        `${which} ${show(odd[0].file)}${more} another runtime (${odd[0].id}) than ${show(base[0].file)} (${base[0].id}), in the same folder: ` +
        `Airflow splits parsing by folder only (a bundle or --subdir takes a folder and everything below it), so the DAG files directly in ${folderShown} must share one runtime, and so must the folders below them. ` +
        `A layout that works: a subfolder per runtime, e.g. ${suggest(odd[0])} for ${path.basename(odd[0].file)}${own ? ` and ${path.basename(own.path)}` : ''}, and ${suggest(base[0])} for ${path.basename(base[0].file)}; ` +
        `the airflow-runtime.yaml files of ${folderShown} and above still apply to both`));
    }
    return problems;
  }

  const [base] = [...groups.values()][0];
  const children = new Map<string, Entry>();
  for (const file of mixed.below) {
    if (file.runtime === base.id) continue;
    const rest = mixed.folder === '.' ? file.path : file.path.slice(mixed.folder.length + 1);
    const child = rest.split('/')[0];
    if (!children.has(child)) children.set(child, entryOf.get(file.path)!);
  }
  for (const [child, other] of children) {
    const childShown = `${show(path.join(input.dagRoot, mixed.folder, child))}/`;
    const difference = differenceOf(base.runtime, other.runtime);
    const which = difference ? `\`${difference.key}\` gives` : 'its runtime files give';
    const count = mixed.direct.length;
    problems.push(problemAt(difference?.source, other.file,
      `${which} the DAG files under ${childShown} (${show(other.file)}: ${other.id}) another runtime than ${show(base.file)} (${base.id}), which is directly in ${folderShown}: ` +
      `a bundle or --subdir of ${folderShown} would take ${childShown} with it, so the DAG files directly in ${folderShown} cannot have a bundle of their own. ` +
      `A layout that works: move ${count > 1 ? `the ${count} DAG files` : path.basename(base.file)} directly in ${folderShown} into a subfolder, e.g. ${suggest(base)}`));
  }
  return problems;
}
