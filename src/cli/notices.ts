import type { Engine } from '../core/engine/types';

/**
 * The engine, with every request's notices (an engine fallback) said once each on stderr, as `engine: …` lines:
 * a folder of files that all fall back says it once.
 */
export function announcing(engine: Engine, err: (line: string) => void): Engine {
  const said = new Set<string>();
  const onNotice = (message: string) => {
    if (said.has(message)) return;
    said.add(message);
    err(`engine: ${message}`);
  };
  return {
    kind: engine.kind,
    describe: () => engine.describe(),
    parse: (request) => engine.parse({ ...request, onNotice }),
    run: (request) => engine.run({ ...request, onNotice }),
    testDag: (request) => engine.testDag({ ...request, onNotice }),
    render: (request) => engine.render({ ...request, onNotice }),
    retireWarmRuntimes: (changedFile, changedAt) => engine.retireWarmRuntimes(changedFile, changedAt),
    dispose: () => engine.dispose(),
  };
}
