import { HOW_TO_ALLOW_HOST_ACCESS, type HostAccess } from '../../runtime/checks';
import { describeSource, type ShowPath } from '../../runtime/describe';
import type { ValueSource } from '../../runtime/resolve';
import { EngineError } from '../errors';

/** The official image's `airflow` uid (AIRFLOW_UID) with the root group, as that image runs. */
export const UNPRIVILEGED_UID = 50000;

/** `''` (Docker's default), `root`, `0`, `root:root`, `0:0`: the container would run as root. */
export function isRootUser(user: string | undefined): boolean {
  const name = (user ?? '').split(':')[0].trim();
  return name === '' || name === 'root' || name === '0';
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
  /** The runtime file's `user`, and where it was said. */
  asked?: { value: string; source?: ValueSource };
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
  if (asked && isRootUser(asked.value)) {
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
  return { user: `${uid}:0`, env: { HOME: '/tmp', USER: 'airflow', LOGNAME: 'airflow' }, describe: `uid ${uid} (the image runs as root)` };
}
