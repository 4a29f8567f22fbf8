import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import createIgnore from '@balena/dockerignore';
import { extract as tarExtract, pack as tarPack } from 'tar-stream';
import { DEPENDENCY_FOLDERS, VCS_FOLDERS } from '../../workspace/walk';
import { EngineError } from '../errors';

/** One file, folder or symlink of a tar archive; `name` is its '/'-separated path in the archive, no leading '/'. */
export interface ArchiveEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  /** Where a file's content is read from, when the archive is written. */
  host?: string;
  size: number;
  mode: number;
  mtimeMs: number;
  linkname?: string;
}

/** A host folder (or file) and where it goes: `target` is a path inside the archive ('' for its root). */
export interface TreeSource {
  host: string;
  target: string;
}

/** What a copy holds, by archive name, and what was left out. */
export interface TreeSnapshot {
  entries: Map<string, ArchiveEntry>;
  files: number;
  bytes: number;
  /** Host folders skipped as dependencies or caches (node_modules, .git, virtualenvs, …). */
  skipped: string[];
}

/** Folders never copied into a runtime: version control, dependencies, caches, virtualenvs. */
export const SKIPPED_FOLDERS: ReadonlySet<string> = new Set([...VCS_FOLDERS, ...DEPENDENCY_FOLDERS]);

export interface CopyLimits {
  bytes: number;
  files: number;
}

/** Enough for any image a DAG runs in; past it, the context is a disk or a home folder. */
function buildContextLimits(env: NodeJS.ProcessEnv = process.env): CopyLimits {
  const mb = Number(env.AIRFLOW_RUNTIME_BUILD_CONTEXT_MAX_MB);
  return { bytes: (Number.isFinite(mb) && mb > 0 ? mb : 2048) * 1024 * 1024, files: 100_000 };
}

/** Enough for any DAG tree; a tree over it is a repository with data or dependencies in it. */
export function copyLimits(env: NodeJS.ProcessEnv = process.env): CopyLimits {
  const mb = Number(env.AIRFLOW_RUNTIME_COPY_MAX_MB);
  return { bytes: (Number.isFinite(mb) && mb > 0 ? mb : 256) * 1024 * 1024, files: 20_000 };
}

const join = (...parts: string[]) => parts.filter(Boolean).join('/');

/**
 * Every file, folder and symlink of the sources, as they will be named in the archive. Later sources win
 * over earlier ones at the same name (a mount inside the DAG root). `skip` decides about folders and
 * files by their path relative to their source.
 */
export function snapshotTrees(sources: TreeSource[], options: { skip?: (relative: string, isDir: boolean, host: string) => boolean; hostModes?: boolean; stopPast?: CopyLimits } = {}): TreeSnapshot {
  const skip = options.skip ?? skipDependencies;
  // Copies are owned by root: without read access for all, the image's user could not read them.
  const readable = options.hostModes ? 0 : 0o444;
  const snapshot: TreeSnapshot = { entries: new Map(), files: 0, bytes: 0, skipped: [] };
  const add = (entry: ArchiveEntry) => {
    const previous = snapshot.entries.get(entry.name);
    if (previous?.type === 'file') {
      snapshot.files--;
      snapshot.bytes -= previous.size;
    }
    snapshot.entries.set(entry.name, entry);
    if (entry.type === 'file') {
      snapshot.files++;
      snapshot.bytes += entry.size;
    }
    const limits = options.stopPast;
    // a tree over the limits is refused anyway: stop walking it now rather than after the whole disk
    if (limits && (snapshot.files > limits.files || snapshot.bytes > limits.bytes)) throw new TreeTooBig(snapshot, limits);
  };
  const visit = (host: string, name: string, relative: string, stats: Stats): void => {
    if (stats.isSymbolicLink()) {
      add({ name, type: 'symlink', size: 0, mode: 0o777, mtimeMs: stats.mtimeMs, linkname: readlinkSync(host) });
    } else if (stats.isFile()) {
      add({ name, type: 'file', host, size: stats.size, mode: (stats.mode & 0o777) | readable, mtimeMs: stats.mtimeMs });
    } else if (stats.isDirectory()) {
      if (name) add({ name, type: 'directory', size: 0, mode: (stats.mode & 0o777) | readable | (readable && 0o111), mtimeMs: stats.mtimeMs });
      let children: string[];
      try {
        children = readdirSync(host).sort();
      } catch {
        return; // unreadable: as a bind mount would show it, empty
      }
      for (const child of children) {
        const childHost = path.join(host, child);
        const childRelative = join(relative, child);
        let childStats: Stats;
        try {
          childStats = lstatSync(childHost);
        } catch {
          continue; // gone since the listing
        }
        const isDir = childStats.isDirectory();
        if (skip(childRelative, isDir, childHost)) {
          if (isDir) snapshot.skipped.push(childHost);
          continue;
        }
        visit(childHost, join(name, child), childRelative, childStats);
      }
    }
    // sockets, fifos and devices are not copied, as `docker cp` would not either
  };
  for (const source of sources) {
    const target = source.target.replace(/^\/+|\/+$/g, '');
    visit(source.host, target, '', statSync(source.host)); // the source itself is followed, as a bind mount would
  }
  return snapshot;
}

/** What a runtime never needs from a DAG tree: version control, dependencies, caches, virtualenvs of any name. */
function skipDependencies(relative: string, isDir: boolean, host?: string): boolean {
  return isDir && (SKIPPED_FOLDERS.has(path.posix.basename(relative)) || (!!host && isVirtualenv(host)));
}

function isVirtualenv(dir: string): boolean {
  try {
    return statSync(path.join(dir, 'pyvenv.cfg')).isFile();
  } catch {
    return false;
  }
}

export class TreeTooBig extends Error {
  constructor(readonly snapshot: TreeSnapshot, readonly limits: CopyLimits) {
    super(`more than ${limits.files} files or ${megabytes(limits.bytes)}`);
  }
}

/** Refuses a copy over the limits, naming the biggest folders so that the person knows what to move. */
export function checkLimits(snapshot: TreeSnapshot, roots: string[], limits: CopyLimits): void {
  if (snapshot.bytes <= limits.bytes && snapshot.files <= limits.files) return;
  const bySize = new Map<string, number>();
  for (const entry of snapshot.entries.values()) {
    if (entry.type !== 'file' || !entry.host) continue;
    const root = roots.find((r) => entry.host!.startsWith(`${r}${path.sep}`));
    const top = root ? path.join(root, path.relative(root, entry.host).split(path.sep)[0]) : entry.host;
    bySize.set(top, (bySize.get(top) ?? 0) + entry.size);
  }
  const biggest = [...bySize].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([p, size]) => `${p} (${megabytes(size)})`);
  throw new EngineError('bad-runtime',
    `the DAG tree to copy to the remote Docker engine is too big: ${snapshot.files} files, ${megabytes(snapshot.bytes)} (at most ${limits.files} files and ${megabytes(limits.bytes)}); biggest: ${biggest.join(', ')}`,
    'keep DAG files in a folder named dags (only that folder is copied), move data and dependencies out of it, or raise AIRFLOW_RUNTIME_COPY_MAX_MB');
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 1)} MB`;
}

/** What to send so that a copy made from `previous` matches `next`, and what to delete from it. */
export function treeChanges(previous: Map<string, ArchiveEntry>, next: Map<string, ArchiveEntry>): { changed: ArchiveEntry[]; removed: string[] } {
  const changed: ArchiveEntry[] = [];
  for (const [name, entry] of next) {
    const old = previous.get(name);
    if (!old || old.type !== entry.type || old.size !== entry.size || old.mtimeMs !== entry.mtimeMs || old.mode !== entry.mode || old.linkname !== entry.linkname) changed.push(entry);
  }
  // A removed folder takes its content with it: name only the topmost.
  const gone = [...previous.keys()].filter((name) => !next.has(name)).sort();
  const removed: string[] = [];
  for (const name of gone) if (!removed.some((top) => name.startsWith(`${top}/`))) removed.push(name);
  return { changed, removed };
}

/**
 * A tar stream of the entries, file contents read as they are written (one file in memory at a time),
 * everything owned by root.
 */
export function packEntries(entries: Iterable<ArchiveEntry>, extraFolders: { name: string; mode: number }[] = []): Readable {
  const pack = tarPack();
  const write = async () => {
    const put = (header: Parameters<typeof pack.entry>[0], content?: Buffer) => new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (content) pack.entry(header, content, done);
      else pack.entry(header, done);
    });
    for (const folder of extraFolders) await put({ name: folder.name, type: 'directory', mode: folder.mode, mtime: new Date() });
    for (const entry of entries) {
      const header = { name: entry.name, type: entry.type, mode: entry.mode, mtime: new Date(entry.mtimeMs), uid: 0, gid: 0 };
      if (entry.type === 'file') {
        let content: Buffer;
        try {
          content = readFileSync(entry.host!);
        } catch {
          continue; // deleted since the snapshot: the next copy removes it
        }
        await put({ ...header, size: content.length }, content);
      } else if (entry.type === 'symlink') {
        await put({ ...header, linkname: entry.linkname });
      } else {
        await put(header);
      }
    }
    pack.finalize();
  };
  write().catch((error: Error) => pack.destroy(error));
  return Readable.from(pack as AsyncIterable<Buffer>);
}

/** The content of the first file in a tar stream (what `GET /containers/{id}/archive` of one file returns). */
export async function firstFileOf(stream: NodeJS.ReadableStream): Promise<Buffer | undefined> {
  const extract = tarExtract();
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  let found: Buffer | undefined;
  // Read to the end, so that the response (and its connection) is done with, not left paused.
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (!found && entry.header.type === 'file') found = Buffer.concat(chunks);
  }
  return found;
}

/**
 * A build context as Docker's CLI sends it: everything under `context` except what `.dockerignore` excludes;
 * the Dockerfile and .dockerignore always go (the builder needs them). Ignored folders are not walked
 * when no `!` exception could bring something back from inside them.
 */
export function buildContextEntries(context: string, dockerfile: string): ArchiveEntry[] {
  let patterns = '';
  try {
    patterns = readFileSync(path.join(context, '.dockerignore'), 'utf8');
  } catch {
    // no .dockerignore: everything goes
  }
  const ignore = createIgnore({ ignorecase: false }).add(patterns);
  const exceptions = /^\s*!/m.test(patterns);
  const always = new Set([path.posix.normalize(dockerfile.split(path.sep).join('/')), '.dockerignore']);
  const limits = buildContextLimits();
  try {
    const snapshot = snapshotTrees([{ host: context, target: '' }], {
      skip: (relative, isDir) => !always.has(relative) && ignore.ignores(relative) && (!isDir || !exceptions),
      hostModes: true,
      stopPast: limits,
    });
    return [...snapshot.entries.values()];
  } catch (error) {
    if (!(error instanceof TreeTooBig)) throw error;
    throw new EngineError('image-build-failed', `the build context ${context} is too big to send to Docker: more than ${limits.files} files or ${megabytes(limits.bytes)} (stopped counting there)`,
      'point build.context at the folder the Dockerfile needs, or leave the rest out with a .dockerignore (AIRFLOW_RUNTIME_BUILD_CONTEXT_MAX_MB raises the size limit)');
  }
}
