import * as path from 'node:path';
import type Docker from 'dockerode';
import { CONTAINER_OUT, type Placement } from '../../harness/layout';
import { isParseResult, type ParseResult } from '../../harness/parseResult';
import { EngineError } from '../errors';
import type { WorkOptions } from '../types';
import { type ArchiveEntry, checkLimits, copyLimits, firstFileOf, megabytes, packEntries, snapshotTrees, type TreeSnapshot, treeChanges } from './archive';

/**
 * Copy mode: a Docker engine on another machine cannot bind this machine's folders, so what bind mounts would
 * show is copied into each container before it starts, and a warm container is sent what changed before each
 * request. Results are taken out of the container instead of read from a shared folder.
 */

/** Where the harness writes results, as a folder anyone may write to (the image's user may not be root). */
const OUT_FOLDER = { name: CONTAINER_OUT.slice(1), mode: 0o777 };

/** Copy mode's state for a warm container: what it holds, so that each request sends only what changed. */
export interface RemoteCopy {
  container: Docker.Container;
  sources: Placement[];
  copied: Map<string, ArchiveEntry>;
  syncing: Promise<void>;
}

/** What bind mounts of `sources` would show, as a snapshot to copy: refused when too big, with what to move. */
export function snapshotToCopy(sources: Placement[]): TreeSnapshot {
  const snapshot = snapshotTrees(sources);
  checkLimits(snapshot, sources.map((s) => s.host), copyLimits());
  return snapshot;
}

/** For people: how much was copied, and which folders were left out. */
export function copiedSummary(snapshot: TreeSnapshot): string {
  const skipped = snapshot.skipped.length ? `; skipped ${snapshot.skipped.map((p) => path.basename(p)).filter((n, i, all) => all.indexOf(n) === i).join(', ')}` : '';
  return `copied ${snapshot.files} files (${megabytes(snapshot.bytes)})${skipped}`;
}

/** Puts the snapshot into a created container (before it starts), with the result folder. */
export async function copyIn(container: Docker.Container, snapshot: TreeSnapshot, endpointUrl: string, options: WorkOptions): Promise<void> {
  options.onProgress?.({ stage: 'copy', message: `copying ${copiedSummary(snapshot)} to ${endpointUrl}` });
  try {
    await container.putArchive(packEntries(snapshot.entries.values(), [OUT_FOLDER]), { path: '/' });
  } catch (error) {
    throw new EngineError('harness-failed', `could not copy the DAG tree into the container on ${endpointUrl}: ${(error as Error).message}`);
  }
}

/** Sends a warm container what changed in its trees since the last request, one sync at a time. */
export function syncCopy(copy: RemoteCopy): Promise<void> {
  const sync = copy.syncing.then(async () => {
    const snapshot = snapshotToCopy(copy.sources);
    const { changed, removed } = treeChanges(copy.copied, snapshot.entries);
    const doomed = removed.map((name) => `/${name}`);
    if (doomed.length) await execAsRoot(copy.container, ['rm', '-rf', '--', ...doomed]);
    if (changed.length) await copy.container.putArchive(packEntries(changed), { path: '/' });
    copy.copied = snapshot.entries;
  });
  copy.syncing = sync.catch(() => undefined);
  return sync;
}

/** Runs a command as root in a running container and waits for it (copy mode's deletions). */
async function execAsRoot(container: Docker.Container, cmd: string[]): Promise<void> {
  const exec = await container.exec({ Cmd: cmd, User: '0', AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  let output = '';
  await new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => { output = (output + chunk.toString('utf8')).slice(-4096); });
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
  const { ExitCode } = await exec.inspect();
  if (ExitCode !== 0) throw new EngineError('harness-failed', `\`${cmd.join(' ')}\` failed in the warm container (exit ${ExitCode}): ${output.trim()}`);
}

/** The result file from inside a container (running or exited); undefined when the harness wrote none. */
export async function resultFrom(container: Docker.Container, file: string): Promise<ParseResult | undefined> {
  let content: Buffer | undefined;
  try {
    content = await firstFileOf(await container.getArchive({ path: file }));
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
  try {
    const parsed: unknown = content && JSON.parse(content.toString('utf8'));
    return isParseResult(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
