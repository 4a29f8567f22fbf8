import type Docker from 'dockerode';
import { EngineError } from '../errors';
import { dockerOptions, type EndpointCandidate, endpointCandidates } from './endpoint';

/** A Docker engine that answered: the client, the endpoint it answered at, and whether it runs on this machine. */
export interface DockerConnection {
  docker: Docker;
  endpoint: EndpointCandidate;
  local: boolean;
  version: string;
}

/** Tries each endpoint with a ping under a short deadline; says which one answered, or why each failed. */
export async function connectDocker(explicit?: string, pingTimeoutMs = 3000): Promise<DockerConnection> {
  const { default: DockerClient } = await import('dockerode');
  const failures: string[] = [];
  for (const endpoint of endpointCandidates(explicit)) {
    try {
      const { options, local } = dockerOptions(endpoint.url);
      const docker = new DockerClient({ ...options, timeout: pingTimeoutMs });
      const version = await docker.version();
      // The ping deadline is for finding the engine; real work (pulls, long parses) has its own deadlines.
      return { docker: new DockerClient(options), endpoint, local, version: `${version.Version} (API ${version.ApiVersion})` };
    } catch (error) {
      failures.push(`${endpoint.url} (${endpoint.origin}): ${(error as Error).message}`);
    }
  }
  throw new EngineError('engine-unreachable', `Docker is not reachable. Tried:\n  ${failures.join('\n  ')}`,
    'start Docker (or Podman), set DOCKER_HOST or the airflowRuntime.docker.endpoint setting, or use --engine local');
}
