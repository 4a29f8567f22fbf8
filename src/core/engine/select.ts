import { connectDocker, DockerEngine } from './docker/dockerEngine';
import { EngineError } from './errors';
import { LocalEngine } from './local/localEngine';
import type { Engine } from './types';

export type EngineChoice = 'auto' | 'docker' | 'local';

export interface SelectedEngine {
  engine: Engine;
  /** Which engine, and why: always said to the user. */
  reason: string;
}

/** `auto` uses Docker when an engine answers and the local runtime emulator otherwise, and says which and why. */
export async function selectEngine(choice: EngineChoice, dockerEndpoint?: string): Promise<SelectedEngine> {
  if (choice === 'local') return { engine: new LocalEngine(), reason: 'local runtime emulator (--engine local)' };
  try {
    const engine = new DockerEngine(await connectDocker(dockerEndpoint));
    return { engine, reason: engine.describe() };
  } catch (error) {
    if (choice === 'docker' || !(error instanceof EngineError)) throw error;
    const first = error.message.split('\n').slice(1, 2).join('').trim();
    return { engine: new LocalEngine(), reason: `local runtime emulator: Docker is not reachable (${first})` };
  }
}
