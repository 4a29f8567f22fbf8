import { HOW_TO_ALLOW_HOST_ACCESS, type HostAccess } from '../../runtime/hostPowers';
import { describeSource, type ShowPath } from '../../runtime/describe';
import type { ValueSource } from '../../runtime/resolve';
import { EngineError } from '../errors';

/** The official image's `airflow` uid (AIRFLOW_UID) with the root group, as that image runs. */
export const UNPRIVILEGED_UID = 50000;

/**
 * Names that are root where the image's /etc/passwd cannot be read to say otherwise (BSD's `toor` is uid 0 in
 * images that carry it); `root` itself is always root.
 */
export const ROOT_ALIASES: readonly string[] = ['root', 'toor'];

/** The user part of `user[:group]`, as Docker reads it. */
export function userName(user: string | undefined): string {
  return (user ?? '').split(':')[0].trim();
}

/**
 * The uid of a numeric user as Docker reads it (Go's strconv.Atoi: `00`, `+0`, `-0` are all 0); undefined for a
 * name, which only the image's /etc/passwd can turn into a uid.
 */
export function numericUid(name: string): number | undefined {
  return /^[+-]?\d+$/.test(name) ? Math.abs(Number(name)) : undefined;
}

/** A name Docker would look up in the image's /etc/passwd (neither a number, nor empty, nor root): only those cost a look. */
export function needsPasswdLookup(user: string | undefined): boolean {
  const name = userName(user);
  return name !== '' && name !== 'root' && numericUid(name) === undefined;
}

/**
 * Whether a container with this `User` runs as root: `''` (Docker's default), `root`, any spelling of uid 0 (`0`,
 * `00`, `+0`, `0:0`); for another name, its uid in the image's /etc/passwd when the engine read it (`uidInImage`),
 * else whether it is a known root alias.
 */
export function isRootUser(user: string | undefined, uidInImage?: number): boolean {
  const name = userName(user);
  if (name === '' || name === 'root') return true;
  const uid = numericUid(name);
  if (uid !== undefined) return uid === 0;
  return uidInImage !== undefined ? uidInImage === 0 : ROOT_ALIASES.includes(name);
}

export interface UserChoice {
  /** Docker's `User` for the container; undefined: the image's own. */
  user?: string;
  /**
   * Set with a uid that may have no passwd entry: Docker would leave HOME at `/`, which that uid cannot write,
   * and Airflow's `getuser()` refuses a user without a name unless USER or LOGNAME gives one.
   */
  env?: Record<string, string>;
  /** For people, in the engine's detail line: `uid 50000 (the image runs as root)`. */
  describe: string;
}

export interface UserInputs {
  /** The image's `Config.User`. */
  imageUser: string | undefined;
  /**
   * The runtime file's `user`, and where it was said; `uidInImage`: the uid its name has in the image's
   * /etc/passwd, when the engine could read it (only looked up for a name other than root: `needsPasswdLookup`).
   */
  asked?: { value: string; source?: ValueSource; uidInImage?: number };
  hostAccess: HostAccess;
  /**
   * This machine's uid when the engine sees this machine's files (a local daemon): a runtime in a root image
   * then reads exactly what the person can (their files of mode 600 too), as the local emulator does.
   */
  hostUid?: number;
}

/**
 * Who a container runs as: the image's user; where that is root, a uid that is not (root inside a container is
 * one kernel bug away from root on the host) unless the runtime file asks for `user: root`. Asking for root
 * where the image has another user opens more than the image meant: the person's to grant.
 */
export function containerUser(inputs: UserInputs, show: ShowPath = (f) => f): UserChoice {
  const { imageUser, asked, hostAccess } = inputs;
  const imageIsRoot = isRootUser(imageUser);
  if (asked && isRootUser(asked.value, asked.uidInImage)) {
    if (imageIsRoot) return { user: '0:0', describe: 'root (user: root)' };
    const where = asked.source ? `${describeSource(asked.source, show)}: ` : '';
    if (!hostAccess.allowed) {
      throw new EngineError('bad-runtime', `${where}\`user: ${asked.value}\` runs as root where the image runs as "${imageUser}": a runtime file cannot open the host by itself`,
        `remove \`user\` to run as the image's user; ${HOW_TO_ALLOW_HOST_ACCESS}`);
    }
    return { user: '0:0', describe: `root (user: root, allowed by ${hostAccess.by ?? 'host access'})` };
  }
  if (asked) return { user: asked.value, describe: `${asked.value} (user)` };
  if (!imageIsRoot) return { describe: `${imageUser} (the image's user)` };
  const uid = inputs.hostUid && inputs.hostUid > 0 ? inputs.hostUid : UNPRIVILEGED_UID;
  return { ...unprivilegedUser(uid), describe: `uid ${uid} (the image runs as root)` };
}

/** Who runs in place of an image's root user: a uid that is not root, with the environment a nameless uid needs. */
export function unprivilegedUser(uid: number = UNPRIVILEGED_UID): { user: string; env: Record<string, string> } {
  return { user: `${uid}:0`, env: { HOME: '/tmp', USER: 'airflow', LOGNAME: 'airflow' } };
}
