import * as vscode from 'vscode';
import { type HostAccess, NO_HOST_ACCESS } from '../core/runtime/checks';
import type { EngineOptions } from '../core/project/engineSession';
import { RUNTIME_SETTINGS, settingsLayer, type SettingsLayer } from '../core/runtime/settings';

export const SECTION = 'airflowRuntime';

/** The extension's own settings (those that are not part of the runtime). */
export interface ExtensionSettings {
  engine: EngineOptions;
  /** A runtime whose image cannot be had runs on the local emulator (`auto` with Docker); off: Docker's error. */
  embeddedDefault: boolean;
  /** A warm runtime imports the installed modules DAG files use before it forks (WarmOptions.preImport). */
  preImport: boolean;
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
      choice: userSetting<'auto' | 'docker' | 'local'>('engine') ?? 'auto',
      dockerEndpoint: userSetting<string>('docker.endpoint') || undefined,
      warm: config.get<boolean>('warm', true),
    },
    embeddedDefault: userSetting<boolean>('embeddedDefault') ?? true,
    preImport: config.get<boolean>('parse.preImport', true),
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
    if (USER_ONLY.has(setting)) return inspected?.globalValue;
    return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
  });
}

/**
 * Settings that choose how strong the box is (the engine, the Docker daemon, the local interpreter): the person's
 * own decision, so `application` scope in package.json, and read here from the user settings only, in case a
 * workspace value reaches us anyway (an older VS Code, a profile).
 */
const USER_ONLY = new Set(['airflowRuntime.engine', 'airflowRuntime.docker.endpoint', 'airflowRuntime.local.python', 'airflowRuntime.embeddedDefault']);

/** A user-only setting of ours: the user's value, else the default; a workspace's or folder's value is never read. */
function userSetting<T>(key: string): T | undefined {
  const inspected = vscode.workspace.getConfiguration(SECTION).inspect<T>(key);
  return inspected?.globalValue ?? inspected?.defaultValue;
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
