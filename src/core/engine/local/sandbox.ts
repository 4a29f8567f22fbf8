import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { which } from './interpreter';

/**
 * What the local runtime emulator can wall off on this machine. With bubblewrap (`bwrap`, Debian's package) and
 * user namespaces, a harness runs with the whole file system read-only but for what it must write (a cold parse's
 * result folder, a private /tmp), a private empty HOME (no ~/.aws, ~/.docker, ~/.ssh), in a PID namespace, and,
 * for a parse, with no network. Without it the emulator still cleans the environment and the process tree, and says that it does not
 * isolate the network and the files.
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

/** Bubblewrap, if it is here and this kernel lets it make namespaces (tried once per process). */
export function localSandbox(): Sandbox {
  if (probed) return probed;
  const bwrap = process.env.AIRFLOW_RUNTIME_NO_SANDBOX ? undefined : which('bwrap');
  const works = bwrap !== undefined
    && spawnSync(bwrap, ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-net', '--die-with-parent', 'true'], { timeout: 10_000 }).status === 0;
  if (!bwrap || !works) {
    const why = !bwrap ? 'bubblewrap (bwrap) is not installed' : 'bubblewrap cannot create namespaces here (unprivileged user namespaces are off)';
    probed = {
      available: false,
      describe: `no sandbox: ${why}, so DAG code parsed locally can use the network and write your files (install bubblewrap, or use Docker)`,
      wrap: (command, args) => ({ command, args }),
    };
    return probed;
  }
  probed = {
    available: true,
    describe: 'sandboxed with bubblewrap: read-only files, a private HOME and /tmp, no network for a parse',
    wrap(command, args, options) {
      // each folder where it is named (the harness is given those paths) and where it really is
      const bind = (flag: string, folders: string[]) => [...new Set(folders.filter(existsSync).flatMap((f) => [f, realpathSync(f)]))].flatMap((f) => [flag, f, f]);
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
          // a PID namespace: when the owner dies (--die-with-parent), the kernel ends every process in it
          '--unshare-pid', '--die-with-parent', '--new-session',
          '--', command, ...args,
        ],
      };
    },
  };
  return probed;
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
