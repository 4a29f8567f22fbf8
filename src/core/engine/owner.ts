import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { killTree } from './processTree';

/**
 * Who started a container, a harness process or a temp folder: this machine, this process, this user. Written
 * on everything we start (a label, an environment variable, a folder name) so that `cleanup` touches only what
 * is ours and whose owner is gone, and never another person's or another machine's.
 */
export interface Owner {
  host: string;
  pid: number;
  user: string;
}

function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown'); // no passwd entry (some containers)
  }
}

export const ME: Owner = { host: os.hostname(), pid: process.pid, user: currentUser() };

/** `host:pid`, as the owner label and the harness's AIRFLOW_RUNTIME_OWNER have it. */
export function ownerId(owner: Owner = ME): string {
  return `${owner.host}:${owner.pid}`;
}

export function parseOwner(id: string | undefined, user: string | undefined): Owner | undefined {
  const at = id?.lastIndexOf(':') ?? -1;
  if (!id || at <= 0) return undefined;
  const pid = Number(id.slice(at + 1));
  // labels written before the user was: the owner's user is not known, so it is not taken for ours
  return Number.isInteger(pid) && pid > 0 ? { host: id.slice(0, at), pid, user: user ?? '' } : undefined;
}

/** Started by this user on this machine. */
export function isMine(owner: Owner | undefined): owner is Owner {
  return owner !== undefined && owner.host === ME.host && owner.user === ME.user;
}

/** The owning process still runs (a pid taken over by another process counts as running: keep, to be safe). */
export function ownerAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What `cleanup` may remove: this user's from this machine whose owner is gone; with `all`, everything of ours. */
export function removable(owner: Owner | undefined, all: boolean): boolean {
  return all || (isMine(owner) && !ownerAlive(owner));
}

/** The environment variable that carries a local harness process's owner. */
export const OWNER_VARIABLE = 'AIRFLOW_RUNTIME_OWNER';

const TEMP_PATTERN = /^airflow-runtime-([a-z]+)-(\d+)-/;

/** A private temp folder whose name carries our pid, so that `cleanup` can tell whose it is. */
export function ownTempDir(kind: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `airflow-runtime-${kind}-${process.pid}-`));
}

export interface Leftover {
  what: string;
  remove(): void;
}

/** Our temp folders in the temp folder, with their owner; only this user's (by the folder's owner). */
export function tempFolders(all: boolean, tmp = os.tmpdir()): Leftover[] {
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const out: Leftover[] = [];
  for (const name of names) {
    const match = TEMP_PATTERN.exec(name);
    if (!match) continue;
    const full = path.join(tmp, name);
    try {
      if (uid !== undefined && statSync(full).uid !== uid) continue;
    } catch {
      continue;
    }
    if (!removable({ ...ME, pid: Number(match[2]) }, all)) continue;
    out.push({ what: `temp folder ${full}`, remove: () => rmSync(full, { recursive: true, force: true }) });
  }
  return out;
}

/**
 * Harness processes of this user on this machine (found by their AIRFLOW_RUNTIME_OWNER), Linux only: the
 * topmost of each tree, killed with everything under it.
 */
export function harnessProcesses(all: boolean): Leftover[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const found = new Map<number, { ppid: number; id: string; cmdline: string }>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (uid !== undefined && statSync(`/proc/${entry}`).uid !== uid) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const id = environ.find((v) => v.startsWith(`${OWNER_VARIABLE}=`))?.slice(OWNER_VARIABLE.length + 1);
      const owner = parseOwner(id, ME.user);
      if (!id || !owner || !removable(owner, all)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      found.set(Number(entry), { ppid, id, cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return [...found].filter(([, p]) => !found.has(p.ppid)).map(([pid, p]) => ({
    what: `process ${pid} (${p.cmdline.slice(0, 80)}; started by ${p.id})`,
    remove: () => killTree(pid),
  }));
}
