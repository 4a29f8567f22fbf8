/**
 * What pip on this machine trusts and where it looks, so that a build of a runtime's requirements works where the
 * user's own `pip install` works (a company proxy, a private index): the index URL, extra index URLs, trusted hosts
 * and the CA bundle, as pip itself reads them (its environment variables and config files). Nothing else of the
 * host's environment or config is handed on.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface HostPipSettings {
  indexUrl?: string;
  extraIndexUrls: string[];
  trustedHosts: string[];
  /** The CA bundle's text (never its path: the path is the host's). */
  caBundle?: string;
  /** Where the CA bundle was read from and by which setting, for the build log. */
  caFrom?: string;
}

const KEYS = ['index-url', 'extra-index-url', 'trusted-host', 'cert'] as const;

/** pip's own reading, most specific first: its environment (`:env:`), then `install`, then `global` sections. */
export function readPipConfigList(output: string): Partial<Record<(typeof KEYS)[number], string>> {
  const found: Record<string, { rank: number; value: string }> = {};
  for (const line of output.split('\n')) {
    const match = /^([^.=]*)\.([a-z-]+)='(.*)'$/.exec(line.trim());
    if (!match || !(KEYS as readonly string[]).includes(match[2])) continue;
    const rank = match[1] === ':env:' ? 0 : match[1] === 'install' ? 1 : match[1] === 'global' ? 2 : 3;
    if (!found[match[2]] || rank < found[match[2]].rank) found[match[2]] = { rank, value: match[3] };
  }
  return Object.fromEntries(Object.entries(found).map(([key, { value }]) => [key, value]));
}

let cached: HostPipSettings | undefined;

/** This machine's pip settings, asked once per process (`pip config list` costs a Python start). */
export function hostPipSettings(env: NodeJS.ProcessEnv = process.env): HostPipSettings {
  if (cached) return cached;
  let config: ReturnType<typeof readPipConfigList> = {};
  for (const python of ['python3', 'python']) {
    const listed = spawnSync(python, ['-m', 'pip', 'config', 'list'], { encoding: 'utf8', timeout: 30_000, env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '', ...pipVariables(env) } });
    if (listed.status === 0) {
      config = readPipConfigList(listed.stdout);
      break;
    }
  }
  // without a pip on the host, its environment variables still say what the user's tools use
  const cert = config.cert ?? env.PIP_CERT ?? env.REQUESTS_CA_BUNDLE ?? env.SSL_CERT_FILE;
  let caBundle: string | undefined;
  if (cert) {
    try {
      caBundle = readFileSync(cert, 'utf8');
    } catch {
      caBundle = undefined; // pip on the host could not read it either
    }
  }
  const words = (value: string | undefined) => (value ?? '').split(/\s+/).filter(Boolean);
  cached = {
    indexUrl: config['index-url'] ?? env.PIP_INDEX_URL,
    extraIndexUrls: words(config['extra-index-url'] ?? env.PIP_EXTRA_INDEX_URL),
    trustedHosts: words(config['trusted-host'] ?? env.PIP_TRUSTED_HOST),
    caBundle,
    caFrom: caBundle ? cert : undefined,
  };
  return cached;
}

/** The host's PIP_* and config-file variables, for asking pip what they make: pip reads them, nothing else does. */
function pipVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] =>
    (entry[0].startsWith('PIP_') || entry[0] === 'XDG_CONFIG_HOME' || entry[0] === 'VIRTUAL_ENV') && entry[1] !== undefined));
}

/** The pip.conf a build is given: the settings above, the CA bundle at `caPath` inside the build. */
export function pipConfFor(settings: HostPipSettings, caPath: string): string {
  const lines = ['[global]', 'disable-pip-version-check = true', 'no-input = true', 'progress-bar = off'];
  if (settings.indexUrl) lines.push(`index-url = ${settings.indexUrl}`);
  if (settings.extraIndexUrls.length) lines.push(`extra-index-url = ${settings.extraIndexUrls.join(' ')}`);
  if (settings.trustedHosts.length) lines.push(`trusted-host = ${settings.trustedHosts.join(' ')}`);
  if (settings.caBundle) lines.push(`cert = ${caPath}`);
  return `${lines.join('\n')}\n`;
}
