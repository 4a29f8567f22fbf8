import * as path from 'node:path';
import { type Problem } from '../problems';
import { type FileProbe, type HostAccess, isInside, isPathLike, NO_HOST_ACCESS } from './checks';
import { dagRuntimeFileFor, FOLDER_RUNTIME_FILE } from './names';
import { readRuntimeFile, type RuntimeFile, unreadableRuntimeFile } from './read';
import { runtimeSchema } from './schema';
import { type KeyPath, keyPathString, type RuntimeValues } from './values';

/** Where an effective value came from. */
export type ValueSource =
  | { kind: 'default' }
  | { kind: 'settings'; setting: string; file?: string }
  | { kind: 'file'; file: string; line: number; column: number }
  | { kind: 'flag'; flag: string };

/** One level of the merge, least specific first. */
export interface Layer {
  values: RuntimeValues;
  sourceOf(keyPath: KeyPath): ValueSource;
}

export interface EffectiveRuntime {
  dagFile: string;
  workspaceRoot: string;
  /** Merged values; paths made absolute against the runtime file that named them. */
  values: RuntimeValues;
  /** Source of every effective value, by `keyPathString` (`image`, `env.FOO`, `timeouts.parse`, `build`). */
  sources: Record<string, ValueSource>;
  /** The runtime files that apply and exist, least specific first. */
  files: RuntimeFile[];
  /** Problems of those files (and of the settings): values with errors were left out of the merge. */
  problems: Problem[];
  /** What this person allowed: with it, a parse gets the runtime's `network` too (else always none). */
  hostAccess: HostAccess;
}

export interface ResolveOptions {
  workspaceRoot: string;
  /**
   * Text of a file, or undefined when it does not exist (`readRuntimeText` for the disk); it may throw for a
   * file that cannot be read, which becomes that file's problem. The extension passes open editors' text.
   */
  readText(filePath: string): string | undefined;
  settings?: Layer;
  /** Applied last, above every file: `--image` on the command line. */
  overrides?: Layer;
  settingsProblems?: Problem[];
  probe?: FileProbe;
  /** What this person lets runtime files open on the host: the CLI's flag, the editor's user setting. */
  hostAccess?: HostAccess;
}

/**
 * How each field merges, by depth: 0 replaces the whole value, 1 merges key by key, 2 merges two levels
 * (`airflowConfig` section → key). `build` and `local` replace as a whole: half of one build spec and half
 * of another is never what anyone meant; so does a connection given by fields (one id, one connection).
 */
const MERGE_DEPTH: Partial<Record<keyof RuntimeValues, number>> = {
  env: 1, variables: 1, connections: 1, resources: 1, timeouts: 1, deploy: 1, airflowConfig: 2,
};

export const defaultsLayer: Layer = {
  values: schemaDefaults(),
  sourceOf: () => ({ kind: 'default' }),
};

/** Runtime files that apply to a DAG file, least specific first, whether they exist or not. */
export function runtimeFileCandidates(dagFile: string, workspaceRoot: string): string[] {
  const dagDir = path.dirname(dagFile);
  const top = isInside(workspaceRoot, dagDir) ? workspaceRoot : dagDir;
  const folders: string[] = [];
  for (let dir = dagDir; ; dir = path.dirname(dir)) {
    folders.unshift(dir);
    if (dir === top || path.dirname(dir) === dir) break;
  }
  return [...folders.map((dir) => path.join(dir, FOLDER_RUNTIME_FILE)), dagRuntimeFileFor(dagFile)];
}

/** The effective runtime of a DAG file: defaults < settings < folder files from the root down < the file's own. */
export function resolveRuntime(dagFile: string, options: ResolveOptions): EffectiveRuntime {
  const absoluteDag = path.resolve(dagFile);
  const workspaceRoot = path.resolve(options.workspaceRoot);
  const files: RuntimeFile[] = [];
  for (const candidate of runtimeFileCandidates(absoluteDag, workspaceRoot)) {
    let text: string | undefined;
    try {
      text = options.readText(candidate);
    } catch (error) {
      files.push(unreadableRuntimeFile(candidate, error));
      continue;
    }
    if (text !== undefined) files.push(readRuntimeFile(candidate, text, { workspaceRoot, probe: options.probe, hostAccess: options.hostAccess }));
  }
  const layers: Layer[] = [defaultsLayer];
  if (options.settings) layers.push(options.settings);
  layers.push(...files.map(fileLayer));
  if (options.overrides) layers.push(options.overrides);

  const values: Record<string, unknown> = {};
  const sources: Record<string, ValueSource> = {};
  for (const layer of layers) mergeLayer(values, sources, layer);
  return {
    dagFile: absoluteDag,
    workspaceRoot,
    values: values as RuntimeValues,
    sources,
    files,
    problems: [...(options.settingsProblems ?? []), ...files.flatMap((file) => file.problems)],
    hostAccess: options.hostAccess ?? NO_HOST_ACCESS,
  };
}

function mergeLayer(values: Record<string, unknown>, sources: Record<string, ValueSource>, layer: Layer): void {
  const own = layer.values as Record<string, unknown>;
  // The most specific layer that says how to get the image decides: an `image` alone drops an inherited `build`.
  if (own.image !== undefined && own.build === undefined && values.build !== undefined) {
    delete values.build;
    delete sources.build;
  }
  for (const [field, value] of Object.entries(own)) {
    mergeValue(values, sources, layer, [field], value, MERGE_DEPTH[field as keyof RuntimeValues] ?? 0);
  }
}

function mergeValue(
  target: Record<string, unknown>, sources: Record<string, ValueSource>, layer: Layer,
  keyPath: string[], value: unknown, depth: number,
): void {
  const key = keyPath[keyPath.length - 1];
  if (depth > 0 && isPlainObject(value)) {
    const child = isPlainObject(target[key]) ? (target[key] as Record<string, unknown>) : {};
    target[key] = child;
    for (const [childKey, childValue] of Object.entries(value)) {
      mergeValue(child, sources, layer, [...keyPath, childKey], childValue, depth - 1);
    }
    return;
  }
  target[key] = structuredClone(value);
  const id = keyPathString(keyPath);
  for (const known of Object.keys(sources)) if (known.startsWith(`${id}.`)) delete sources[known];
  sources[id] = layer.sourceOf(keyPath);
}

/** A runtime file as a layer: paths made absolute against its folder, sources at the line of each key. */
export function fileLayer(file: RuntimeFile): Layer {
  const baseDir = path.dirname(file.path);
  const values = structuredClone(file.values);
  const absolute = (value: string) => path.resolve(baseDir, value);
  if (values.envFile) values.envFile = absolute(values.envFile);
  if (values.build) values.build.context = absolute(values.build.context);
  if (values.local?.python && isPathLike(values.local.python)) values.local.python = absolute(values.local.python);
  if (values.local?.requirements) values.local.requirements = absolute(values.local.requirements);
  if (typeof values.requirements === 'string') values.requirements = absolute(values.requirements);
  if (typeof values.packages === 'string') values.packages = absolute(values.packages);
  values.mounts?.forEach((mount) => { mount.source = absolute(mount.source); });
  if (values.pythonPath) values.pythonPath = values.pythonPath.map(absolute);
  return {
    values,
    sourceOf(keyPath) {
      const location = file.locations.get(keyPathString(keyPath));
      const start = location?.key?.start ?? location?.value.start ?? { line: 1, column: 1 };
      return { kind: 'file', file: file.path, line: start.line, column: start.column };
    },
  };
}

/** Defaults come from the schema's `default`s: top-level fields and the fields of key-by-key objects. */
function schemaDefaults(): RuntimeValues {
  const out: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(runtimeSchema.properties ?? {})) {
    if (schema.default !== undefined) out[field] = schema.default;
    else if (MERGE_DEPTH[field as keyof RuntimeValues] === 1 && schema.properties) {
      const nested = Object.fromEntries(Object.entries(schema.properties).filter(([, s]) => s.default !== undefined).map(([k, s]) => [k, s.default]));
      if (Object.keys(nested).length) out[field] = nested;
    }
  }
  return out as RuntimeValues;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The runtime with one more layer on top, as if it had been given as `overrides`: the target of an upgrade check
 * (an image, or a runtime file merged over everything else). The layer's values are checked where it was read.
 */
export function withLayer(runtime: EffectiveRuntime, layer: Layer, problems: readonly Problem[] = []): EffectiveRuntime {
  const values = structuredClone(runtime.values) as Record<string, unknown>;
  const sources = { ...runtime.sources };
  mergeLayer(values, sources, layer);
  return { ...runtime, values: values as RuntimeValues, sources, problems: [...runtime.problems, ...problems] };
}
