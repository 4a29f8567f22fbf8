import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from './errors';

/**
 * An exclusive lock by file (its holder's pid inside), shared by every process of this user (the editor, CLIs):
 * waits while a live process holds it, takes a dead one's. Returns the release; a no-op release when `isDone` says,
 * while waiting, that the holder already made what the lock is for. Stops waiting, with a `cancelled` EngineError,
 * when `signal` aborts.
 */
export async function exclusiveLock(lock: string, isDone: () => boolean | Promise<boolean>, onWait: (holder: number) => void, signal?: AbortSignal): Promise<() => void> {
  mkdirSync(path.dirname(lock), { recursive: true });
  for (let waited = 0; ; waited += 1) {
    if (signal?.aborted) throw new EngineError('cancelled', 'cancelled while waiting for another process\'s build');
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(lock, 'utf8').trim() || 'NaN');
    } catch {
      continue; // gone between the two calls: try again
    }
    const justMade = !Number.isInteger(holder) && Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 5000;
    if (!justMade && (!Number.isInteger(holder) || !alive(holder))) {
      rmSync(lock, { force: true });
      continue;
    }
    if (await isDone()) return () => undefined;
    if (waited % 15 === 0) onWait(holder);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
