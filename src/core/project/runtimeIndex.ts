import * as path from 'node:path';
import type { Problem } from '../problems';
import type { HostAccess } from '../runtime/checks';
import { readRuntimeText } from '../runtime/read';
import { dependencyDigest } from '../runtime/requirements';
import { type EffectiveRuntime, type Layer, resolveRuntime } from '../runtime/resolve';

export interface RuntimeInputs {
  /** The workspace folder a DAG file belongs to: runtime files are layered from there down. */
  workspaceRootOf(dagFile: string): string;
  /** The settings layer (the editor's configuration) and its problems. */
  settings(): { layer: Layer; problems: Problem[] } | undefined;
  /** What this person lets runtime files open on the host (a user setting: never the workspace's). */
  hostAccess?(): HostAccess;
}

/**
 * Effective runtimes of DAG files, resolved once and kept until a runtime file or a setting changes. Runtime
 * files are read from disk: a parse runs what is saved, so the runtime is the saved one too.
 */
export class RuntimeIndex {
  private readonly cache = new Map<string, EffectiveRuntime>();
  private readonly folders = new Map<string, EffectiveRuntime>();

  constructor(private readonly inputs: RuntimeInputs) {}

  runtimeOf(dagFile: string): EffectiveRuntime {
    let runtime = this.cache.get(dagFile);
    if (!runtime) this.cache.set(dagFile, (runtime = this.resolve(dagFile)));
    return runtime;
  }

  /** The runtime of a folder's files without a runtime file of their own (which files are DAG files depends on it). */
  runtimeOfFolder(folder: string): EffectiveRuntime {
    let runtime = this.folders.get(folder);
    if (!runtime) this.folders.set(folder, (runtime = this.resolve(path.join(folder, '__folder__.py'))));
    return runtime;
  }

  /** What is known of a DAG file's runtime, without resolving it. */
  peek(dagFile: string): EffectiveRuntime | undefined {
    return this.cache.get(dagFile);
  }

  /** Forget everything (a runtime file or a setting changed); returns the DAG files whose runtime was known. */
  forgetAll(): string[] {
    const files = [...this.cache.keys()];
    this.cache.clear();
    this.folders.clear();
    return files;
  }

  private resolve(dagFile: string): EffectiveRuntime {
    const settings = this.inputs.settings();
    return withDigest(resolveRuntime(dagFile, {
      workspaceRoot: this.inputs.workspaceRootOf(dagFile),
      readText: readRuntimeText,
      settings: settings?.layer,
      settingsProblems: settings?.problems,
      hostAccess: this.inputs.hostAccess?.(),
    }));
  }

  forget(dagFile: string): void {
    this.cache.delete(dagFile);
  }
}

/** What the files a runtime names (its requirements) held when it was resolved. */
const digests = new WeakMap<EffectiveRuntime, string>();

function withDigest(runtime: EffectiveRuntime): EffectiveRuntime {
  digests.set(runtime, dependencyDigest(runtime.values));
  return runtime;
}

/** What a parse of a DAG file depends on in its runtime: equal fingerprints parse the same. */
export function runtimeFingerprint(runtime: EffectiveRuntime | undefined): string {
  // the requirements file's content too: its edit changes the runtime's image, as an edit of the runtime file does
  return runtime ? JSON.stringify([runtime.values, runtime.problems.map((p) => `${p.severity} ${p.message}`), runtime.hostAccess.allowed, digests.get(runtime) ?? '']) : '';
}
