import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
/** What harnesses before owner-marked folders left (`tempfile.mkdtemp`: a home, a private DB): no owner to tell. */
const UNMARKED_PATTERN = /^airflow-runtime-(?:home-)?[a-z0-9_]{8}$/;
/** Inside each of our temp folders: who made it, for which project (what `cleanup` says before removing it). */
const OWNER_FILE = '.airflow-runtime-owner.json';

/**
 * A private temp folder whose name carries our pid, so that `cleanup` can tell whose it is, and that says for
 * which project it was made.
 */
export function ownTempDir(kind: string, project?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `airflow-runtime-${kind}-${process.pid}-`));
  try {
    writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify({ owner: ownerId(), project }));
  } catch {
    // the name says whose it is; the project is a courtesy
  }
  return dir;
}

export interface Leftover {
  what: string;
  remove(): void;
}

/** `42 s`, `12 min`, `3 h`, `2 days`. */
export function ageOf(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 120 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

function ownerState(pid: number): string {
  return `owner pid ${pid}${ownerAlive({ ...ME, pid }) ? ' running' : ' gone'}`;
}

function projectOf(folder: string): string | undefined {
  try {
    const project = (JSON.parse(readFileSync(path.join(folder, OWNER_FILE), 'utf8')) as { project?: unknown }).project;
    return typeof project === 'string' ? project : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Our temp folders in the temp folder, only this user's (by the folder's owner), with whose they are: the project,
 * the age, the owner pid. Folders of older harnesses carry no owner: they are taken only when no harness process
 * of this user runs (`harnessRunning`), since only a running one can still use one.
 */
export function tempFolders(all: boolean, tmp = os.tmpdir(), harnessRunning = ourHarnessProcesses().length > 0): Leftover[] {
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const now = Date.now();
  const out: Leftover[] = [];
  for (const name of names) {
    const match = TEMP_PATTERN.exec(name);
    const unmarked = !match && UNMARKED_PATTERN.test(name);
    if (!match && !unmarked) continue;
    const full = path.join(tmp, name);
    let age: number;
    try {
      const stat = statSync(full);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      age = now - stat.mtimeMs;
      if (unmarked && !['airflow.db', 'logs', 'airflow.cfg'].some((f) => existsSync(path.join(full, f)))) continue;
    } catch {
      continue;
    }
    if (match ? !removable({ ...ME, pid: Number(match[2]) }, all) : !(all || !harnessRunning)) continue;
    const whose = match
      ? `project ${projectOf(full) ?? 'not recorded'}, ${ageOf(age)} old, ${ownerState(Number(match[2]))}`
      : `${ageOf(age)} old, left by an older harness: owner not recorded`;
    out.push({ what: `temp folder ${full} (${whose})`, remove: () => rmSync(full, { recursive: true, force: true }) });
  }
  return out;
}

interface HarnessProcess {
  pid: number;
  ppid: number;
  id: string;
  owner?: Owner;
  cmdline: string;
  /** The harness's working folder: the project root, as the engine starts it. */
  cwd?: string;
  ageMs?: number;
}

/** Seconds since boot at which a process started, from /proc (clock ticks: 100 a second on Linux). */
function startedAgoMs(stat: string): number | undefined {
  try {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(startTicks) && Number.isFinite(uptime) ? Math.max(0, (uptime - startTicks / 100) * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** Every harness process of this user on this machine (found by its AIRFLOW_RUNTIME_OWNER), Linux only. */
function ourHarnessProcesses(): HarnessProcess[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const found: HarnessProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (uid !== undefined && statSync(`/proc/${entry}`).uid !== uid) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const id = environ.find((v) => v.startsWith(`${OWNER_VARIABLE}=`))?.slice(OWNER_VARIABLE.length + 1);
      if (!id) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      let cwd: string | undefined;
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // not ours to read
      }
      found.push({ pid: Number(entry), ppid, id, owner: parseOwner(id, ME.user), cwd, ageMs: startedAgoMs(stat),
        cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/**
 * Harness processes of this user on this machine whose owner is gone (any owner's with `all`): the topmost of
 * each tree, killed with everything under it, each said with whose it is (project folder, age, owner pid).
 */
export function harnessProcesses(all: boolean): Leftover[] {
  const found = ourHarnessProcesses().filter((p) => p.owner && removable(p.owner, all));
  const pids = new Set(found.map((p) => p.pid));
  return found.filter((p) => !pids.has(p.ppid)).map((p) => ({
    what: `process ${p.pid} (project ${p.cwd ?? 'not known'}, ${p.ageMs === undefined ? 'age not known' : `${ageOf(p.ageMs)} old`}, `
      + `${ownerState(p.owner!.pid)}; ${p.cmdline.slice(0, 80)})`,
    remove: () => killTree(p.pid),
  }));
}
