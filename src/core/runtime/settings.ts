import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { findNodeAtLocation, parseTree, type Node as JsonNode } from 'jsonc-parser';
import { FILE_START, type Position, type Problem } from '../problems';
import { schemaComplaints } from './schemaComplaints';
import type { Layer } from './resolve';
import { dropPaths, type KeyPath, keyPathString, type RuntimeValues } from './values';

/** The editor settings that feed the runtime, between the defaults and the runtime files. */
export const RUNTIME_SETTINGS: readonly { setting: string; keyPath: KeyPath }[] = [
  { setting: 'airflowRuntime.defaultImage', keyPath: ['image'] },
  { setting: 'airflowRuntime.pull', keyPath: ['pull'] },
  { setting: 'airflowRuntime.timeouts.parse', keyPath: ['timeouts', 'parse'] },
  { setting: 'airflowRuntime.timeouts.start', keyPath: ['timeouts', 'start'] },
  { setting: 'airflowRuntime.timeouts.run', keyPath: ['timeouts', 'run'] },
  { setting: 'airflowRuntime.local.python', keyPath: ['local', 'python'] },
  { setting: 'airflowRuntime.env', keyPath: ['env'] },
];

export interface SettingsLayer {
  layer: Layer;
  problems: Problem[];
}

/**
 * Builds the settings layer from a getter (VS Code's configuration, or a settings.json read by the CLI).
 * Invalid settings are left out and reported, at `positionOf(setting)` in `file` when known.
 */
export function settingsLayer(
  get: (setting: string) => unknown,
  file?: string,
  positionOf: (setting: string) => Position | undefined = () => undefined,
): SettingsLayer {
  const values: Record<string, unknown> = {};
  const settingOf = new Map<string, string>();
  for (const { setting, keyPath } of RUNTIME_SETTINGS) {
    const value = get(setting);
    if (value === undefined || value === null || value === '') continue;
    let parent = values;
    for (const key of keyPath.slice(0, -1)) parent = (parent[key] ??= {}) as Record<string, unknown>;
    parent[keyPath[keyPath.length - 1]] = value;
    settingOf.set(keyPathString(keyPath), setting);
  }
  const settingFor = (keyPath: KeyPath): string => {
    for (let n = keyPath.length; n > 0; n--) {
      const setting = settingOf.get(keyPathString(keyPath.slice(0, n)));
      if (setting) return setting;
    }
    return 'airflowRuntime';
  };
  const problems: Problem[] = [];
  const complaints = schemaComplaints(values);
  for (const complaint of complaints) {
    const setting = settingFor(complaint.at);
    const at = positionOf(setting) ?? FILE_START;
    problems.push({ file: file ?? '(settings)', severity: 'error', code: complaint.code, message: `setting ${setting}: ${complaint.message}`, start: at, end: at });
  }
  dropPaths(values, complaints.map((c) => c.drop));
  return {
    layer: { values: values as RuntimeValues, sourceOf: (keyPath) => ({ kind: 'settings', setting: settingFor(keyPath), file }) },
    problems,
  };
}

/** For the CLI: the workspace's `.vscode/settings.json` (JSON with comments), so that the terminal agrees with the editor. */
export function readWorkspaceSettings(workspaceRoot: string): SettingsLayer | undefined {
  const file = path.join(workspaceRoot, '.vscode', 'settings.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const tree = parseTree(text, [], { allowTrailingComma: true });
  if (!tree || tree.type !== 'object') return undefined;
  const nodeOf = (setting: string): JsonNode | undefined => findNodeAtLocation(tree, [setting]);
  const positionOf = (setting: string): Position | undefined => {
    const node = nodeOf(setting);
    if (!node) return undefined;
    const before = text.slice(0, node.offset).split('\n');
    return { line: before.length, column: before[before.length - 1].length + 1 };
  };
  const get = (setting: string): unknown => {
    const node = nodeOf(setting);
    return node ? nodeValue(node) : undefined;
  };
  return settingsLayer(get, file, positionOf);
}

function nodeValue(node: JsonNode): unknown {
  switch (node.type) {
    case 'object':
      return Object.fromEntries((node.children ?? []).map((pair) => [pair.children?.[0]?.value, pair.children?.[1] ? nodeValue(pair.children[1]) : undefined]));
    case 'array':
      return (node.children ?? []).map(nodeValue);
    default:
      return node.value;
  }
}
