import type { ProgressEvent } from '../core/engine/types';

/** One status line on a terminal, rewritten in place; nothing when stderr is not a terminal (CI logs stay clean). */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): { report: (event: ProgressEvent) => void; clear: () => void } {
  if (!stream.isTTY) return { report: () => undefined, clear: () => undefined };
  let shown = false;
  const width = () => Math.max(20, (stream.columns ?? 80) - 1);
  return {
    report(event) {
      stream.write(`\r\x1b[K${`${event.stage}: ${event.message}`.slice(0, width())}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
