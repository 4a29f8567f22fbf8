import * as vscode from 'vscode';
import { type HostAccess, NO_HOST_ACCESS } from '../core/runtime/checks';
import type { EngineOptions } from '../core/project/engineSession';
import { RUNTIME_SETTINGS, settingsLayer, type SettingsLayer } from '../core/runtime/settings';

export const SECTION = 'airflowRuntime';

/** The extension's own settings (those that are not part of the runtime). */
export interface ExtensionSettings {
  engine: EngineOptions;
  include: string[];
  exclude: string[];
  safeMode: boolean;
  parseOnSave: boolean;
  codeLens: boolean;
  /** "Show Graph" and "Run DAG" above each DAG. */
  dagCodeLens: boolean;
}

export function readSettings(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return {
    engine: {
      choice: config.get<'auto' | 'docker' | 'local'>('engine', 'auto'),
      dockerEndpoint: config.get<string>('docker.endpoint') || undefined,
      warm: config.get<boolean>('warm', true),
    },
    include: config.get<string[]>('dagFiles.include', ['**/*.py']),
    exclude: config.get<string[]>('dagFiles.exclude', []),
    safeMode: config.get<boolean>('dagFiles.safeMode', true),
    parseOnSave: config.get<boolean>('parseOnSave', true),
    codeLens: config.get<boolean>('codeLens', false),
    dagCodeLens: config.get<boolean>('dagCodeLens', true),
  };
}

/**
 * The settings layer of the runtime: only values a person set (user, workspace or folder), so that a
 * default stays a default in "where did this come from".
 */
export function runtimeSettingsLayer(scope?: vscode.Uri): SettingsLayer {
  const config = vscode.workspace.getConfiguration(undefined, scope);
  return settingsLayer((setting) => {
    const inspected = config.inspect(setting);
    return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
  });
}

/** Settings whose change changes effective runtimes. */
export function affectsRuntimes(event: vscode.ConfigurationChangeEvent): boolean {
  return RUNTIME_SETTINGS.some(({ setting }) => event.affectsConfiguration(setting)) || event.affectsConfiguration(`${SECTION}.allowHostAccess`);
}

/**
 * Host access as this person granted it in their user settings. The workspace's value (and a folder's) is never
 * read: a repository that is cloned and trusted must not be able to open the host by a line in .vscode/settings.json.
 */
export function userHostAccess(): HostAccess {
  const inspected = vscode.workspace.getConfiguration(SECTION).inspect<boolean>('allowHostAccess');
  return inspected?.globalValue === true ? { allowed: true, by: 'the user setting airflowRuntime.allowHostAccess' } : NO_HOST_ACCESS;
}
