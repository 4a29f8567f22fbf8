import type { ProgressEvent } from '../core/engine/types';

/** Stages that take seconds to minutes: a CI log says when one starts and that it goes on. */
const SLOW_STAGES = new Set<ProgressEvent['stage']>(['venv', 'build', 'pull', 'migrate', 'start', 'copy']);

export interface ProgressOptions {
  /** Not a terminal: at most one line this often while a slow stage goes on. */
  everyMs?: number;
  now?: () => number;
}

/**
 * What the CLI says while it waits. On a terminal, one status line rewritten in place. Elsewhere (CI logs), one
 * line when a slow stage starts (a venv, an image build or pull, a migration, a runtime's start), then one line
 * at most every `everyMs` while it goes on, with its time so far: `venv: installing airflow-2.11.2.txt with uv (20 s)`.
 * Quick stages (a parse, a run) and the tools' own chatter between two lines are not said.
 */
export function terminalProgress(stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY' | 'columns'> = process.stderr, options: ProgressOptions = {}): { report: (event: ProgressEvent) => void; clear: () => void } {
  if (!stream.isTTY) return logProgress(stream, options);
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

function logProgress(stream: Pick<NodeJS.WriteStream, 'write'>, { everyMs = 10_000, now = Date.now }: ProgressOptions): { report: (event: ProgressEvent) => void; clear: () => void } {
  let current: { stage: ProgressEvent['stage']; latest: string; since: number; said: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const say = (message: string) => {
    if (!current) return;
    current.said = now();
    const seconds = Math.round((current.said - current.since) / 1000);
    stream.write(`${current.stage}: ${message}${seconds > 0 ? ` (${seconds} s)` : ''}\n`);
  };
  const end = () => {
    clearInterval(timer);
    timer = undefined;
    current = undefined;
  };
  return {
    report(event) {
      if (!SLOW_STAGES.has(event.stage)) return end();
      if (current?.stage !== event.stage) {
        end();
        current = { stage: event.stage, latest: event.message, since: now(), said: 0 };
        say(event.message);
        // a stage can go on for minutes without a word from its tool: the log still hears from us
        timer = setInterval(() => current && now() - current.said >= everyMs && say(current.latest), Math.min(everyMs, 1000));
        timer.unref();
        return;
      }
      current.latest = event.message;
      if (now() - current.said >= everyMs) say(event.message);
    },
    clear: end,
  };
}
