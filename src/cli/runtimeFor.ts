import * as path from 'node:path';
import type { HostAccess } from '../core/runtime/checks';
import { hostAccessFromEnvironment } from '../core/runtime/hostPowers';
import { readRuntimeText } from '../core/runtime/read';
import { type Layer, resolveRuntime, type EffectiveRuntime } from '../core/runtime/resolve';
import { readWorkspaceSettings } from '../core/runtime/settings';
import { DagFileJudge, dagFileRuleOf, rulePerFolder } from '../core/workspace/dagFiles';
import { findProjectRoot } from '../core/workspace/root';

/** The DAG file's project (root.ts: from the files, the same from every current folder), unless `--workspace` names it. */
export function workspaceRootFor(dagFile: string, _cwd: string, explicit?: string): string {
  return explicit ? path.resolve(explicit) : findProjectRoot(dagFile);
}

export interface Where {
  cwd: string;
  workspace?: string;
  image?: string;
  hostAccess?: HostAccess;
}

export { ALLOW_HOST_ACCESS_VARIABLE } from '../core/runtime/hostPowers';

/** The flag, else the environment variable (1, true or yes; nothing else grants): this person's grant, and by what. */
export function hostAccessOf(flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): HostAccess {
  return flag ? { allowed: true, by: '--allow-host-access' } : hostAccessFromEnvironment(env);
}

/** The effective runtime as the terminal sees it: files, the workspace's .vscode/settings.json, and flags. */
export function runtimeFor(dagFile: string, options: Where): EffectiveRuntime {
  const workspaceRoot = workspaceRootFor(dagFile, options.cwd, options.workspace);
  const settings = readWorkspaceSettings(workspaceRoot);
  const overrides: Layer | undefined = options.image
    ? { values: { image: options.image }, sourceOf: () => ({ kind: 'flag', flag: '--image' }) }
    : undefined;
  return resolveRuntime(dagFile, {
    workspaceRoot,
    readText: readRuntimeText,
    settings: settings?.layer,
    settingsProblems: settings?.problems,
    overrides,
    hostAccess: options.hostAccess,
  });
}

/**
 * The rule for which files are DAG files, as the terminal sees the runtimes: each folder's rule comes from its
 * effective runtime (the Airflow major, `[core]` settings), resolved once per folder.
 */
export function dagFileJudge(options: Where): DagFileJudge {
  return new DagFileJudge(
    (file) => workspaceRootFor(file, options.cwd, options.workspace),
    rulePerFolder((folder) => dagFileRuleOf(runtimeFor(path.join(folder, '__folder__.py'), options).values)),
  );
}
