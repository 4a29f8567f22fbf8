import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type Docker from 'dockerode';

/** What endpoint resolution reads of the machine: files, the user's id and home; a fake one in tests. */
export interface EndpointHost {
  exists(file: string): boolean;
  read(file: string): Buffer;
  uid?: number;
  home: string;
}

const thisMachine: EndpointHost = {
  exists: existsSync,
  read: (file) => readFileSync(file),
  uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
  home: os.homedir(),
};

/** A Docker API endpoint and where we learnt of it (dockerode itself ignores contexts and Podman). */
export interface EndpointCandidate {
  url: string;
  origin: string;
}

/**
 * Where to look for a Docker API. A named endpoint is authoritative, as with the docker CLI: the explicit
 * setting, else DOCKER_HOST, else the current Docker context; falling back to another daemon (with other
 * images) would surprise. With none named: rootless Docker, Podman, then the default socket.
 */
export function endpointCandidates(explicit?: string, env: NodeJS.ProcessEnv = process.env, host: EndpointHost = thisMachine): EndpointCandidate[] {
  if (explicit) return [{ url: explicit, origin: 'the airflowRuntime.docker.endpoint setting' }];
  if (env.DOCKER_HOST) return [{ url: env.DOCKER_HOST, origin: 'DOCKER_HOST' }];
  const context = currentContextEndpoint(env, host);
  if (context) return [context];
  const out: EndpointCandidate[] = [];
  // Well-known sockets are worth a ping only when they exist.
  const socket = (socketPath: string, origin: string) => {
    if (host.exists(socketPath)) out.push({ url: `unix://${socketPath}`, origin });
  };
  const runtimeDir = env.XDG_RUNTIME_DIR ?? (host.uid !== undefined ? `/run/user/${host.uid}` : undefined);
  if (runtimeDir) {
    socket(`${runtimeDir}/docker.sock`, 'rootless Docker');
    socket(`${runtimeDir}/podman/podman.sock`, 'Podman (rootless)');
  }
  socket('/run/podman/podman.sock', 'Podman');
  out.push({ url: 'unix:///var/run/docker.sock', origin: 'the default socket' });
  const seen = new Set<string>();
  return out.filter((candidate) => !seen.has(candidate.url) && !!seen.add(candidate.url));
}

function currentContextEndpoint(env: NodeJS.ProcessEnv, host: EndpointHost): EndpointCandidate | undefined {
  const configDir = env.DOCKER_CONFIG ?? path.join(host.home, '.docker');
  const readJson = (file: string) => JSON.parse(host.read(file).toString('utf8')) as unknown;
  try {
    const name = env.DOCKER_CONTEXT ?? (readJson(path.join(configDir, 'config.json')) as { currentContext?: string }).currentContext;
    if (!name || name === 'default') return undefined;
    const id = createHash('sha256').update(name).digest('hex');
    const meta = readJson(path.join(configDir, 'contexts', 'meta', id, 'meta.json')) as { Endpoints?: { docker?: { Host?: string } } };
    const host = meta.Endpoints?.docker?.Host;
    return host ? { url: host, origin: `Docker context "${name}"` } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * dockerode's options for an endpoint URL; `local` when bind mounts see this machine's files.
 * Every connection key is set, even to undefined: docker-modem fills missing ones from DOCKER_HOST.
 */
export function dockerOptions(url: string, env: NodeJS.ProcessEnv = process.env, host: EndpointHost = thisMachine): { options: Docker.DockerOptions; local: boolean } {
  const { options, local } = endpointOptions(url, env, host);
  return { options: { socketPath: undefined, host: undefined, port: undefined, protocol: undefined, ...options }, local };
}

function endpointOptions(url: string, env: NodeJS.ProcessEnv, host: EndpointHost): { options: Docker.DockerOptions; local: boolean } {
  if (url.startsWith('unix://')) return { options: { socketPath: url.slice('unix://'.length) }, local: true };
  if (url.startsWith('npipe://')) return { options: { socketPath: url.slice('npipe://'.length) }, local: true };
  const parsed = new URL(url);
  if (parsed.protocol === 'ssh:') {
    return { options: { protocol: 'ssh', host: parsed.hostname, port: Number(parsed.port || 22), username: parsed.username || undefined }, local: false };
  }
  const tls = env.DOCKER_TLS_VERIFY === '1' || parsed.protocol === 'https:';
  const certs = env.DOCKER_CERT_PATH;
  const read = (name: string) => (certs ? host.read(path.join(certs, name)) : undefined);
  return {
    options: {
      protocol: tls ? 'https' : 'http', host: parsed.hostname, port: Number(parsed.port || (tls ? 2376 : 2375)),
      ...(tls && certs ? { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') } : {}),
    },
    local: false,
  };
}
