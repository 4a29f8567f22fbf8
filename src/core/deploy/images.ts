/**
 * The images `up` runs, built on the project's own runtime images so that users add nothing to theirs:
 * - a DAG processor's image per runtime: the runtime's image plus a PostgreSQL driver and our policy package
 *   (the processor writes to the metadata database and checks that each file is parsed in its own runtime);
 * - the control plane's image: the same on one runtime, plus PostgreSQL (Debian's) and the Docker SDK (the
 *   executor launches each task's container through it).
 * Each is tagged by a hash of its inputs (the base image's id, the policy package's files, the recipe): a build
 * that exists is never repeated.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { LABEL_BUILT_BY } from '../engine/docker/images';
import { pack as tarPack } from 'tar-stream';
import type { ArchiveEntry } from '../engine/docker/archive';
import { EngineError } from '../engine/errors';

/** PyPI pins: the Docker SDK the launcher uses, the driver of the metadata database. */
const DOCKER_SDK = 'docker==7.2.0';
/** Airflow 3 opens a synchronous (psycopg2) and an asynchronous (asyncpg) engine on the metadata database. */
const POSTGRES_DRIVERS = 'psycopg2-binary==2.9.13 asyncpg==0.32.0';
export const LABEL_INPUTS = 'airflow-runtime.inputs';

/**
 * Two targets: `processor` (driver + policy) and `control-plane` (the processor's layers + PostgreSQL + Docker
 * SDK). Everything runs as root (apt, a pip install every user of the image sees: PIP_USER off, as the official
 * image sets it on) and the image's own user is put back. The host's CA bundle lets pip through a TLS proxy;
 * it is removed in the step that used it.
 */
export const RECIPE = `ARG BASE
FROM \${BASE} AS processor
ARG RUNTIME_USER=root
USER root
COPY host-ca.crt /tmp/airflow-runtime-ca.crt
COPY policy /tmp/airflow-runtime-policy
RUN export PIP_USER=false PIP_DISABLE_PIP_VERSION_CHECK=1 \\
 && if [ -s /tmp/airflow-runtime-ca.crt ]; then export PIP_CERT=/tmp/airflow-runtime-ca.crt; fi \\
 && python -m pip install --quiet --no-cache-dir /tmp/airflow-runtime-policy ${POSTGRES_DRIVERS} \\
 && rm -rf /tmp/airflow-runtime-policy /tmp/airflow-runtime-ca.crt
USER \${RUNTIME_USER}

FROM processor AS control-plane
ARG RUNTIME_USER=root
USER root
COPY host-ca.crt /tmp/airflow-runtime-ca.crt
RUN export DEBIAN_FRONTEND=noninteractive \\
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && mkdir -p /var/lib/postgresql/airflow-runtime && chown postgres:postgres /var/lib/postgresql/airflow-runtime \\
 && mkdir -p /opt/airflow/logs && chgrp 0 /opt/airflow/logs && chmod 2775 /opt/airflow/logs \\
 && export PIP_USER=false PIP_DISABLE_PIP_VERSION_CHECK=1 \\
 && if [ -s /tmp/airflow-runtime-ca.crt ]; then export PIP_CERT=/tmp/airflow-runtime-ca.crt; fi \\
 && python -m pip install --quiet --no-cache-dir ${DOCKER_SDK} \\
 && rm /tmp/airflow-runtime-ca.crt
USER \${RUNTIME_USER}
`;

export type DeployTarget = 'processor' | 'control-plane';

/** The policy package's folder on the host: `policy/` of the package root, in the repo and in the .vsix alike. */
export function hostPolicyDir(): string {
  if (process.env.AIRFLOW_RUNTIME_POLICY_DIR) return process.env.AIRFLOW_RUNTIME_POLICY_DIR;
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'policy');
    if (existsSync(path.join(candidate, 'src', 'airflow_runtime_policy', '__init__.py'))) return candidate;
  }
  return path.resolve(__dirname, '..', 'policy');
}

/** The files a pip install of the policy package needs (no build output, no caches, no tests). */
function policyEntries(policyDir: string): ArchiveEntry[] {
  const out: ArchiveEntry[] = [];
  const add = (relative: string) => {
    const host = path.join(policyDir, relative);
    const stat = statSync(host);
    out.push({ name: `policy/${relative.split(path.sep).join('/')}`, type: stat.isDirectory() ? 'directory' : 'file', host, size: stat.size, mode: stat.isDirectory() ? 0o755 : 0o644, mtimeMs: 0 });
  };
  for (const file of ['pyproject.toml', 'README.md']) if (existsSync(path.join(policyDir, file))) add(file);
  const walk = (relative: string) => {
    add(relative);
    for (const name of readdirSync(path.join(policyDir, relative)).sort()) {
      const child = path.join(relative, name);
      if (name === '__pycache__' || name.endsWith('.egg-info')) continue;
      if (statSync(path.join(policyDir, child)).isDirectory()) walk(child);
      else if (name.endsWith('.py') || name === 'py.typed') add(child);
    }
  };
  walk(path.join('src', 'airflow_runtime_policy'));
  return out;
}

/** The CA bundle pip on this machine trusts: PIP_CERT, SSL_CERT_FILE, else the system's. */
function hostCaBundle(): string | undefined {
  return [process.env.PIP_CERT, process.env.SSL_CERT_FILE, '/etc/ssl/certs/ca-certificates.crt'].find((f): f is string => !!f && existsSync(f));
}

export interface ImageBuild {
  /** The tag the image has (or gets). */
  tag: string;
  /** Built now (false: it was there). */
  built: boolean;
}

/** Builds `target` on `base` unless an image of the same inputs is there. */
export async function ensureDeployImage(docker: Docker, base: string, target: DeployTarget, onLine: (line: string) => void, signal?: AbortSignal): Promise<ImageBuild> {
  const info = await docker.getImage(base).inspect();
  const policyDir = hostPolicyDir();
  const entries = policyEntries(policyDir);
  const hash = createHash('sha256').update(RECIPE).update(`\0${target}\0${info.Id}\0${info.Config?.User ?? ''}`);
  for (const entry of entries) hash.update(`\0${entry.name}\0`).update(entry.type === 'file' ? readFileSync(entry.host!) : '');
  const inputs = hash.digest('hex').slice(0, 16);
  const tag = `airflow-runtime-deploy/${target}:${inputs}`;
  try {
    const existing = await docker.getImage(tag).inspect();
    if (existing.Config?.Labels?.[LABEL_INPUTS] === inputs) return { tag, built: false };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  const context = buildContext(entries);
  onLine(`building ${tag} (${target === 'control-plane' ? 'the control plane' : 'a DAG processor'} on ${base})`);
  try {
    const stream = await docker.buildImage(context, {
      t: tag, target, rm: true, forcerm: true, abortSignal: signal,
      labels: { [LABEL_INPUTS]: inputs, [LABEL_BUILT_BY]: 'airflow-runtime up' },
      buildargs: { BASE: base, RUNTIME_USER: info.Config?.User || 'root' },
    });
    await new Promise<void>((resolve, reject) => {
      let failure: string | undefined;
      docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : failure ? reject(new Error(failure)) : resolve()),
        (line: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
          if (line.error || line.errorDetail) failure ??= line.errorDetail?.message ?? line.error;
          const text = line.stream?.trimEnd();
          if (text && /^Step \d+\/\d+/.test(text)) onLine(`  ${text}`);
        });
    });
  } catch (error) {
    if (signal?.aborted) throw new EngineError('cancelled', `building ${tag} was cancelled`);
    throw new EngineError('image-build-failed', `building ${tag} on ${base} failed: ${(error as Error).message}`,
      'the build installs PostgreSQL from the image\'s Debian sources and a driver and the Docker SDK from PyPI: check that both are reachable from Docker builds on this machine');
  }
  return { tag, built: true };
}

/** The recipe, the CA bundle (an empty file when there is none) and the policy package, as a tar stream. */
function buildContext(policy: ArchiveEntry[]): NodeJS.ReadableStream {
  const pack = tarPack();
  const ca = hostCaBundle();
  pack.entry({ name: 'Dockerfile', mode: 0o644 }, RECIPE);
  pack.entry({ name: 'host-ca.crt', mode: 0o644 }, ca ? readFileSync(ca) : '');
  for (const entry of policy) {
    if (entry.type === 'directory') pack.entry({ name: entry.name, type: 'directory', mode: 0o755 });
    else pack.entry({ name: entry.name, mode: 0o644 }, readFileSync(entry.host!));
  }
  pack.finalize();
  return pack as unknown as NodeJS.ReadableStream;
}
