import type Docker from 'dockerode';
import type { RuntimeValues } from '../../runtime/values';
import { CONTAINER_CACHE, type HarnessSetup } from '../../harness/layout';
import { CHECKED_TEMPLATES, type TemplateHashes } from '../checkedTemplates';
import { CONTAINER_DEBUG_PORT } from '../debugpy';
import { hardenedHostConfig } from './hardening';
import { ourLabels } from './ourContainers';
import type { UserChoice } from './user';

/** The Docker volume of the runtime cache (the template DBs), shared by every runtime container of ours. */
export const CACHE_VOLUME = 'airflow-runtime-cache';

/** What makes a runtime's container: the same for a parse, a warm runtime, a task run and our cache step. */
export interface ContainerSpecInput {
  image: string;
  cmd: string[];
  /** The runtime's values: `resources` bound the container. */
  values: RuntimeValues;
  setup: HarnessSetup;
  /** Who the container runs as (containerUser). */
  user: UserChoice;
  binds: string[];
  network: string;
  /** Labels the container for `cleanup` (a warm one: `warm:<DAG root>`). */
  dagFile: string;
  /** Only our own step (`prepare-cache`) writes the runtime cache; everything else sees it read-only. */
  cacheWritable?: boolean;
  /** The template hashes the harness must find in the read-only cache (CheckedTemplates). */
  templates?: TemplateHashes;
  /** Publish debugpy's port on 127.0.0.1 (port 0: any free one). */
  publishDebugPort?: number;
}

/** The container of a runtime: hardened, labelled as ours, its stdin attached so that it ends when we do. */
export function containerSpec(input: ContainerSpecInput): Docker.ContainerCreateOptions {
  const debugPort = `${CONTAINER_DEBUG_PORT}/tcp`;
  return {
    Image: input.image,
    Cmd: input.cmd,
    // the project root in the runtime, as the images' own WORKDIR: never the folder the parse was started from
    WorkingDir: input.setup.workingDir,
    ...(input.user.user ? { User: input.user.user } : {}),
    Env: [
      ...Object.entries({ ...input.user.env, ...input.setup.env }).map(([k, v]) => `${k}=${v}`),
      ...(input.cacheWritable ? [] : [`${CHECKED_TEMPLATES}=${JSON.stringify(input.templates ?? {})}`]),
    ],
    Labels: ourLabels(input.dagFile),
    // Our end of the attached stdin closes when we end, however we end (kill -9 too): the harness sees
    // its stdin close and stops, so no container outlives its owner (StdinOnce: closed when we detach).
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    ...(input.publishDebugPort !== undefined ? { ExposedPorts: { [debugPort]: {} } } : {}),
    HostConfig: {
      Binds: input.binds,
      // on 127.0.0.1 only: a debugger can run any code in the runtime
      ...(input.publishDebugPort !== undefined ? { PortBindings: { [debugPort]: [{ HostIp: '127.0.0.1', HostPort: input.publishDebugPort ? String(input.publishDebugPort) : '' }] } } : {}),
      Mounts: [{ Type: 'volume', Source: CACHE_VOLUME, Target: CONTAINER_CACHE, ReadOnly: !input.cacheWritable }],
      NetworkMode: input.network,
      ...hardenedHostConfig(input.values.resources),
    },
  };
}
