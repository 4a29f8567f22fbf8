/**
 * Ctrl-C and SIGTERM as a cancellation: the work in flight is aborted through `signal`, and the caller's
 * `finally` blocks stop what it started before the process exits. A second signal while cleaning up is
 * answered with what is going on, not with an exit that would leave things running.
 */
export function cancelOnSignals(err: (line: string) => void, what: string): { signal: AbortSignal; cancelled: () => boolean; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      err('still cleaning up: stopping the containers and processes started so far...');
      return;
    }
    err(`cancelling: ${what}...`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    cancelled: () => controller.signal.aborted,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
