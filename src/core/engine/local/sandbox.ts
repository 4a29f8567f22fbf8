import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { which } from './which';

/**
 * What the local runtime emulator can wall off on this machine. With bubblewrap (`bwrap`, Debian's package) and
 * user namespaces, a harness runs with the whole file system read-only but for what it must write (a cold parse's
 * result folder, a private /tmp), a private empty HOME (no ~/.aws, ~/.docker, ~/.ssh), in a PID namespace, with no
 * capabilities and, for a parse, with no network. With util-linux's `unshare` only (on every Linux): the same but
 * for HOME and /tmp, which stay the machine's. Without either the emulator still cleans the environment and the
 * process tree, and says that it does not isolate the network and the files.
 */
export interface Sandbox {
  available: boolean;
  /** For people: what a parse gets on this machine. */
  describe: string;
  /** The command line that runs `command args` inside the sandbox (itself when none is available). */
  wrap(command: string, args: string[], options: SandboxOptions): { command: string; args: string[] };
}

export interface SandboxOptions {
  /** A parse has no network; a task run keeps the machine's. */
  network: boolean;
  /** Folders the harness writes: a cold parse's result folder. */
  writable: string[];
  /** The interpreter's installation (a venv under HOME must stay visible when HOME is hidden), the project, the cache. */
  readable: string[];
  home: string;
}

/** Host services a DAG file must not reach, even in a task run that keeps the network. */
const SERVICE_SOCKETS = ['/run/docker.sock', '/run/podman/podman.sock', '/run/containerd/containerd.sock', '/run/user/%uid/docker.sock', '/run/user/%uid/podman/podman.sock']
  .map((s) => s.replace('%uid', String(process.getuid?.() ?? 0)));

function isSocket(file: string): boolean {
  try {
    return statSync(file).isSocket();
  } catch {
    return false;
  }
}

let probed: Sandbox | undefined;

/**
 * The strongest sandbox this machine has (probed once per process): bubblewrap, else util-linux's `unshare`, else
 * none, and it says which. `AIRFLOW_RUNTIME_SANDBOX=unshare|none` picks a weaker one (tests, and machines where
 * the stronger one misbehaves); `AIRFLOW_RUNTIME_NO_SANDBOX=1` is `none`.
 */
export function localSandbox(): Sandbox {
  if (probed) return probed;
  const wanted = process.env.AIRFLOW_RUNTIME_NO_SANDBOX ? 'none' : process.env.AIRFLOW_RUNTIME_SANDBOX ?? 'bwrap';
  const bwrap = wanted === 'bwrap' ? which('bwrap') : undefined;
  const bwrapWorks = bwrap !== undefined
    && spawnSync(bwrap, ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-net', '--die-with-parent', '--cap-drop', 'ALL', 'true'], { timeout: 10_000 }).status === 0;
  if (bwrap && bwrapWorks) return (probed = bubblewrap(bwrap));
  const unshare = wanted !== 'none' ? which('unshare') : undefined;
  const setpriv = which('setpriv');
  const unshareWorks = unshare !== undefined && setpriv !== undefined
    && spawnSync(unshare, [...UNSHARE_FLAGS, '--net', '--', setpriv, ...SETPRIV_FLAGS, '--', 'true'], { timeout: 10_000 }).status === 0;
  if (unshare && setpriv && unshareWorks) return (probed = unshareSandbox(unshare, setpriv, wanted === 'unshare' ? 'asked for by AIRFLOW_RUNTIME_SANDBOX' : 'no bubblewrap here'));
  const why = wanted === 'none' ? 'turned off (AIRFLOW_RUNTIME_SANDBOX=none or AIRFLOW_RUNTIME_NO_SANDBOX)'
    : `${which('bwrap') ? 'bubblewrap cannot create namespaces here' : 'bubblewrap (bwrap) is not installed'}, and unshare ${unshare ? 'cannot create a user namespace here (unprivileged user namespaces are off)' : 'is not installed'}`;
  probed = {
    available: false,
    describe: `no sandbox: ${why}, so DAG code parsed locally can use the network and write your files (install bubblewrap, or use Docker)`,
    wrap: (command, args) => ({ command, args }),
  };
  return probed;
}

/** Each folder where it is named (the harness is given those paths) and where it really is, once. */
function bothNames(folders: string[]): string[] {
  return [...new Set(folders.filter(existsSync).flatMap((f) => [f, realpathSync(f)]))];
}

function bubblewrap(bwrap: string): Sandbox {
  return {
    available: true,
    describe: 'sandboxed with bubblewrap: read-only files, a private HOME and /tmp, no capabilities, no network for a parse',
    wrap(command, args, options) {
      const bind = (flag: string, folders: string[]) => bothNames(folders).flatMap((f) => [flag, f, f]);
      return {
        command: bwrap,
        args: [
          '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
          '--tmpfs', options.home, // after / is bound: HOME is an empty folder, then what must stay is bound back
          ...bind('--ro-bind', options.readable),
          ...bind('--bind', options.writable),
          // the sockets of container engines stay reachable through a read-only file system: covered up
          ...SERVICE_SOCKETS.filter(isSocket).flatMap((socket) => ['--ro-bind', '/dev/null', socket]),
          ...(options.network ? [] : ['--unshare-net']),
          // run as root, bubblewrap keeps every capability (mknod, mount) unless told: none, whoever runs it
          '--cap-drop', 'ALL', '--unshare-ipc', '--unshare-uts',
          // a PID namespace: when the owner dies (--die-with-parent), the kernel ends every process in it
          '--unshare-pid', '--die-with-parent', '--new-session',
          '--', command, ...args,
        ],
      };
    },
  };
}

/** A user namespace (no capabilities outside it), a mount namespace, a PID namespace ended with its first child. */
const UNSHARE_FLAGS = ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', '--ipc', '--uts'];
/** Inside: no capability left, none to gain (a remount rw of the read-only folders needs one). */
const SETPRIV_FLAGS = ['--bounding-set=-all', '--inh-caps=-all', '--no-new-privs'];

/**
 * The mounts are made inside the new namespaces by a few lines of sh (`unshare` has no flags for them), then
 * setpriv drops every capability and runs the harness: what it reads is read-only, the engine sockets are covered.
 */
/**
 * The mounts, made inside the new namespaces by a few lines of sh (`unshare` has no flags for them): HOME becomes an
 * empty tmpfs (its old content staged aside, then only what the harness must read bound back), each readable folder
 * read-only, the engine sockets covered. A read-only bind is a bind then a remount that keeps the source's locked
 * flags (nosuid, nodev: a tmpfs /tmp or a nodev /home refuse `mount -o bind,ro` in a user namespace), with noexec
 * too where the source has it. Then setpriv drops every capability and runs the harness.
 */
const UNSHARE_SETUP = [
  'set -e',
  'home=; stage=',
  'place() {',
  '  src="$1"',
  '  if [ -n "$home" ]; then case "$1" in "$home"|"$home"/*)',
  '    src="$stage${1#"$home"}"',
  '    if [ -d "$src" ]; then mkdir -p "$1"; else mkdir -p "$(dirname "$1")"; : > "$1"; fi;; esac; fi',
  '  mount --bind "$src" "$1"',
  '  [ "$2" = rw ] || mount -o remount,bind,ro,nosuid,nodev "$1" 2>/dev/null || mount -o remount,bind,ro,nosuid,nodev,noexec "$1"',
  '}',
  'while [ "$1" != -- ]; do',
  '  case "$1" in',
  '    --home) home="$2"; stage=$(mktemp -d); mount --bind "$home" "$stage"; mount -t tmpfs -o mode=0700 tmpfs "$home";;',
  '    --ro) place "$2" ro;;',
  '    --rw) place "$2" rw;;',
  '    --hide) mount --bind /dev/null "$2";;',
  '  esac',
  '  shift 2',
  'done',
  'shift',
  '[ -z "$stage" ] || { umount -l "$stage"; rmdir "$stage"; }',
  'exec "$@"',
].join('\n');

function unshareSandbox(unshare: string, setpriv: string, why: string): Sandbox {
  return {
    available: true,
    describe: `sandboxed with unshare (${why}): the project and the interpreter read-only, an empty HOME, a private PID namespace, no capabilities, no network for a parse; /tmp is not private (install bubblewrap for that)`,
    wrap(command, args, options) {
      const writable = bothNames(options.writable);
      const readable = bothNames(options.readable).filter((f) => !writable.includes(f));
      const home = options.home && options.home !== '/' && existsSync(options.home) ? realpathSync(options.home) : undefined;
      const underHome = (f: string) => home !== undefined && (f === home || f.startsWith(`${home}/`));
      return {
        command: unshare,
        args: [
          ...UNSHARE_FLAGS, ...(options.network ? [] : ['--net']),
          '--', '/bin/sh', '-c', UNSHARE_SETUP, 'sandbox',
          ...(home ? ['--home', home] : []),
          ...readable.flatMap((f) => ['--ro', f]),
          // a writable folder under HOME is bound back as it is; elsewhere it is already there, writable
          ...writable.filter(underHome).flatMap((f) => ['--rw', f]),
          ...SERVICE_SOCKETS.filter(isSocket).flatMap((socket) => ['--hide', socket]),
          '--', setpriv, ...SETPRIV_FLAGS, '--', command, ...args,
        ],
      };
    },
  };
}

/** The installation an interpreter needs: its venv (or prefix) folder, found from the path it is run by. */
export function interpreterFolders(python: string): string[] {
  const resolved = path.isAbsolute(python) ? python : which(python) ?? python;
  // bin/python of a venv: the venv itself; the real interpreter it links to is outside HOME in practice
  const venv = path.dirname(path.dirname(resolved));
  let real = resolved;
  try {
    real = realpathSync(resolved);
  } catch {
    // not there: the harness will say so
  }
  return [venv, path.dirname(path.dirname(real))];
}

export const HOME = os.homedir();
