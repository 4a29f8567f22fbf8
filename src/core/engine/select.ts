import { connectDocker, DockerEngine } from './docker/dockerEngine';
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
export async function selectEngine(choice: EngineChoice, options: { dockerEndpoint?: string; warm?: boolean } = {}): Promise<SelectedEngine> {
  const selected = await selectBareEngine(choice, options);
  return { ...selected, engine: redactingEngine(selected.engine) };
}

async function selectBareEngine(choice: EngineChoice, options: { dockerEndpoint?: string; warm?: boolean }): Promise<SelectedEngine> {
  const warm = { warm: options.warm };
  if (choice === 'local') return { engine: new LocalEngine(warm), reason: `local runtime emulator (--engine local)${options.warm ? ', warm' : ''}; ${localSandbox().describe}` };
  try {
    const engine = new DockerEngine(await connectDocker(options.dockerEndpoint), warm);
    return { engine, reason: engine.describe() };
  } catch (error) {
    if (choice === 'docker' || !(error instanceof EngineError)) throw error;
    const first = error.message.split('\n').slice(1, 2).join('').trim();
    return { engine: new LocalEngine(warm), reason: `local runtime emulator${options.warm ? ', warm' : ''}: Docker is not reachable (${first}); ${localSandbox().describe}` };
  }
}
