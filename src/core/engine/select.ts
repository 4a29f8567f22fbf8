import { connectDocker } from './docker/connect';
import { DockerEngine } from './docker/dockerEngine';
import { EmbeddedDefaultEngine } from './embeddedDefault';
import { EngineError } from './errors';
import { LocalEngine } from './local/localEngine';
import { localSandbox } from './local/sandbox';
import { redactingEngine } from './redacting';
import type { Engine } from './types';

export type EngineChoice = 'auto' | 'docker' | 'local';

export interface SelectedEngine {
  engine: Engine;
  /** Which engine, and why: always said to the user. */
  reason: string;
}

/**
 * `auto` uses Docker when an engine answers and the local runtime emulator otherwise, and says which and why.
 * Either way the engine keeps the runtime's secrets out of what it hands on (redacting.ts).
 */
export interface SelectOptions {
  dockerEndpoint?: string;
  warm?: boolean;
  /** A warm runtime pre-imports the installed modules DAG files use (default true; see WarmOptions). */
  preImport?: boolean;
  /** `auto` only: a runtime whose image cannot be had runs on the local emulator (default true). */
  embeddedDefault?: boolean;
}

export async function selectEngine(choice: EngineChoice, options: SelectOptions = {}): Promise<SelectedEngine> {
  const selected = await selectBareEngine(choice, options);
  return { ...selected, engine: redactingEngine(selected.engine) };
}

async function selectBareEngine(choice: EngineChoice, options: SelectOptions): Promise<SelectedEngine> {
  const warm = { warm: options.warm, preImport: options.preImport };
  if (choice === 'local') return { engine: new LocalEngine(warm), reason: `local runtime emulator (--engine local)${options.warm ? ', warm' : ''}; ${localSandbox().describe}` };
  try {
    const docker = new DockerEngine(await connectDocker(options.dockerEndpoint), warm);
    if (choice === 'docker' || options.embeddedDefault === false) return { engine: docker, reason: docker.describe() };
    const engine = new EmbeddedDefaultEngine(docker, () => new LocalEngine(warm));
    return { engine, reason: engine.describe() };
  } catch (error) {
    if (choice === 'docker' || !(error instanceof EngineError)) throw error;
    const first = error.message.split('\n').slice(1, 2).join('').trim();
    return { engine: new LocalEngine(warm), reason: `local runtime emulator${options.warm ? ', warm' : ''}: Docker is not reachable (${first}); ${localSandbox().describe}` };
  }
}
