/**
 * The powers over the host that a runtime file can ask for, and only the person running it can grant: one table,
 * read by the runtime-file checks, the Docker engine (root, image tags) and the README's threat model. A field that
 * opens the host gets a row here; a row is refused at the runtime file's line unless the person allowed host access.
 */

/** What a person's grant says: given or not, and by what (for the warning that reports it). */
export interface HostAccess {
  allowed: boolean;
  by?: string;
}

export const NO_HOST_ACCESS: HostAccess = { allowed: false };

/** The person's ways to grant; never a workspace's (its .vscode/settings.json cannot set the user setting). */
export const GRANTED_BY = '--allow-host-access (CLI), AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1 (CI), or the user setting airflowRuntime.allowHostAccess';

/** How a person allows it: said in every refusal. */
export const HOW_TO_ALLOW_HOST_ACCESS = `if you trust it, allow host access: ${GRANTED_BY} (a workspace cannot set it)`;

export type HostPowerName =
  | 'mount-outside' | 'mount-socket' | 'mount-control' | 'env-file-outside' | 'build-context-outside'
  | 'network' | 'root-user' | 'foreign-image-tag' | 'requirement-outside';

export interface HostPower {
  /** The runtime-file field that asks for it. */
  field: string;
  /** What it opens on the host. */
  opens: string;
  /** Where it is refused: when the runtime file is read (every engine, `validate`, the editor), or by the engine. */
  checkedWhen: 'reading the runtime file' | 'the Docker engine, before it starts a container' | 'the Docker engine, before it builds';
}

export const HOST_POWERS: Readonly<Record<HostPowerName, HostPower>> = {
  'mount-outside': {
    field: 'mounts[].source',
    opens: 'host files outside the workspace (after symlinks) to DAG code: read, and with readOnly: false written',
    checkedWhen: 'reading the runtime file',
  },
  'mount-socket': {
    field: 'mounts[].source',
    opens: 'a host service through its socket (the Docker socket is full control of the host)',
    checkedWhen: 'reading the runtime file',
  },
  'mount-control': {
    field: 'mounts[].source with readOnly: false',
    opens: 'the host\'s own code execution: .git (config, hooks), .vscode, .idea, .envrc, .github... run on the host by git, the editor, direnv or CI',
    checkedWhen: 'reading the runtime file',
  },
  'env-file-outside': {
    field: 'envFile',
    opens: 'a host file outside the workspace, whose values reach DAG code',
    checkedWhen: 'reading the runtime file',
  },
  'build-context-outside': {
    field: 'build.context',
    opens: 'every file of a host folder outside the workspace, sent to Docker and readable by the build',
    checkedWhen: 'reading the runtime file',
  },
  network: {
    field: 'network',
    opens: 'a network other than none, bridge or default: host (its local services, the Docker API on 127.0.0.1), another container\'s (container:<name>), or a named network',
    checkedWhen: 'reading the runtime file',
  },
  'root-user': {
    field: 'user',
    opens: 'root in a container whose image runs as another user (any spelling of uid 0, or a name that maps to it)',
    checkedWhen: 'the Docker engine, before it starts a container',
  },
  'requirement-outside': {
    field: 'requirements (a local path: -e, ./pkg, file:, --find-links)',
    opens: 'a host folder outside the workspace, whose setup code runs when pip installs it',
    checkedWhen: 'reading the runtime file',
  },
  'foreign-image-tag': {
    field: 'build (with image)',
    opens: 'replacing an image tag that this project did not build: every other project using that tag would run it',
    checkedWhen: 'the Docker engine, before it builds',
  },
};

/** The networks a runtime may name by itself: no network, Docker's default bridge. */
export const OWN_NETWORKS: ReadonlySet<string> = new Set(['none', 'bridge', 'default']);

/** `host`, `Host`, `container:<name>`, `ns:<path>`, an id, any named network: a host power. */
export function networkIsHostPower(network: string): boolean {
  return !OWN_NETWORKS.has(network);
}

/**
 * Writable mounts of a folder that holds (or is, or lies in) one of these give DAG code the host's own code
 * execution: git runs `core.fsmonitor` and hooks, editors run tasks and settings, direnv runs `.envrc`, CI runs
 * workflows, pre-commit runs its hooks.
 */
export const CONTROL_NAMES: readonly string[] = [
  '.git', '.hg', '.svn', '.vscode', '.idea', '.envrc', '.github', '.gitlab-ci.yml', '.devcontainer', '.husky',
  '.pre-commit-config.yaml',
];

/** The environment variable that allows host access in CI, where nobody types a flag. */
export const ALLOW_HOST_ACCESS_VARIABLE = 'AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS';

/** Only these grant: `off`, `2`, `enabled` and every other word a person might think means "yes" do not. */
const GRANTING_VALUES = new Set(['1', 'true', 'yes']);

/** The person's grant through the environment variable; anything but 1, true or yes (any case) grants nothing. */
export function hostAccessFromEnvironment(env: Readonly<Record<string, string | undefined>>): HostAccess {
  const value = env[ALLOW_HOST_ACCESS_VARIABLE];
  if (value !== undefined && GRANTING_VALUES.has(value.trim().toLowerCase())) return { allowed: true, by: `${ALLOW_HOST_ACCESS_VARIABLE}=${value}` };
  return NO_HOST_ACCESS;
}
