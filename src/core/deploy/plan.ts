/**
 * What `airflow-runtime up` runs, as data: names, labels, networks, volumes and one container spec per component
 * of a local Airflow 3 (PostgreSQL, API server, scheduler, triggerer, one DAG processor per bundle). Pure: the
 * Docker calls live in deployment.ts, so that this file reads (and is tested) as the deployment's shape.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { bundleConfigList, deploymentPath } from '../export/fragments';
import type { Manifest } from '../export/manifest';

/** On every container, network and volume of a deployment: `down`, adoption and tests find them by it. */
export const LABEL_DEPLOYMENT = 'airflow-runtime.deployment';
/** Which component a container is (`db`, `api-server`, `dag-processor`, ...). */
export const LABEL_COMPONENT = 'airflow-runtime.component';
/** The project root a deployment is of, for people reading `docker ps`. */
export const LABEL_PROJECT = 'airflow-runtime.project';

/** The port the API server listens on inside its container, and where the database listens. */
const API_PORT = 8080;
const DB_PORT = 5432;
/** Where the manifest is mounted in the control plane's and processors' containers. */
export const CONTAINER_STATE = '/opt/airflow-runtime/deployment';
export const MANIFEST_NAME = 'manifest.json';
const LOGS_FOLDER = '/opt/airflow/logs';
export const DB_DATA = '/var/lib/postgresql/airflow-runtime';

const SIMPLE_AUTH_MANAGER = 'airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager';
/** The task launcher's executor (policy/: airflow_runtime_policy.executor); LocalExecutor until it is installed. */
export const CONTAINER_EXECUTOR = 'airflow_runtime_policy.executor.ContainerTaskExecutor';

/**
 * A deployment's id: the project folder's name (for people) and a hash of its path (two projects of one name
 * never share a database). Stable: `down`, a second `up` and the editor find the same deployment.
 */
export function deploymentId(projectRoot: string): string {
  const name = path.basename(projectRoot).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30) || 'project';
  return `${name}-${createHash('sha256').update(path.resolve(projectRoot)).digest('hex').slice(0, 8)}`;
}

export interface DeploymentNames {
  id: string;
  /** The database, scheduler, triggerer, processors and API server: no task container on it. */
  controlNetwork: string;
  /** The task containers and the API server (their Execution API): the only way a task reaches Airflow. */
  taskNetwork: string;
  dbVolume: string;
  logsVolume: string;
  container: (component: string) => string;
}

export function namesOf(id: string): DeploymentNames {
  const prefix = `airflow-runtime-${id}`;
  return {
    id,
    controlNetwork: `${prefix}-control`,
    taskNetwork: `${prefix}-tasks`,
    dbVolume: `${prefix}-db`,
    logsVolume: `${prefix}-logs`,
    container: (component) => `${prefix}-${component}`,
  };
}

export interface PlanInput {
  projectRoot: string;
  /** The project's DAGs folder on the host. */
  dagRoot: string;
  /** Where the runtimes expect the DAGs folder (their `dagsFolder`, one for all). */
  dagsFolder: string;
  /** The plugins folder on the host, when the project has one. */
  pluginsFolder?: string;
  manifest: Manifest;
  /** The host folder holding the manifest (mounted read-only). */
  stateFolder: string;
  controlPlaneImage: string;
  /** The DAG processor's image of each runtime id (its runtime's image with the driver and the policy added). */
  processorImages: ReadonlyMap<string, string>;
  /** The UI's port on 127.0.0.1. */
  port: number;
  /** The executor the scheduler runs: ours when the control plane has it, else LocalExecutor. */
  executor: string;
  /** Group ids that may use the Docker socket (the scheduler's executor launches task containers through it). */
  dockerSocket?: { path: string; gid?: number };
  /** Shared by the API server (which signs) and the scheduler (whose tasks present the tokens). */
  secret: string;
  /** Labels of whoever starts it (user, host). */
  ownerLabels: Record<string, string>;
}

export interface ComponentSpec {
  component: string;
  /** Shown in the state stream: `DAG processor airflow-runtime-rt1-team_a`. */
  title: string;
  create: Docker.ContainerCreateOptions;
}

export interface DeploymentPlan {
  names: DeploymentNames;
  url: string;
  labels: Record<string, string>;
  db: ComponentSpec;
  migrate: ComponentSpec;
  components: ComponentSpec[];
  /** The DAG processors' components, by bundle name. */
  processors: Map<string, string>;
  /** Container paths of the DAGs folder and each bundle, and their host folders. */
  bundleSources: Record<string, string>;
}

/**
 * Every container of ours: no privilege gained through setuid binaries, no capabilities (Airflow and
 * PostgreSQL need none: ports above 1024, files their own user owns), a bound on processes.
 */
const HARDENING: Docker.HostConfig = {
  SecurityOpt: ['no-new-privileges'],
  CapDrop: ['ALL'],
  PidsLimit: 2048,
};

/** Bundles are read every 10 s (not Airflow's 5 min): a DAG file saved in the editor shows up quickly. */
const BUNDLE_REFRESH_SECONDS = 10;

export function planDeployment(input: PlanInput): DeploymentPlan {
  const names = namesOf(deploymentId(input.projectRoot));
  const labels = { [LABEL_DEPLOYMENT]: names.id, [LABEL_PROJECT]: input.projectRoot, ...input.ownerLabels };
  const url = `http://127.0.0.1:${input.port}`;
  const apiServer = names.container('api-server');
  const manifestPath = path.posix.join(CONTAINER_STATE, MANIFEST_NAME);
  const bundles = bundleConfigList(input.manifest, input.dagsFolder).map((b) => ({ ...b, kwargs: { ...b.kwargs, refresh_interval: BUNDLE_REFRESH_SECONDS } }));
  const bundleSources = Object.fromEntries(input.manifest.runtimes.flatMap((r) => r.bundles.map((b) => [b.name, b.path === '.' ? input.dagRoot : path.join(input.dagRoot, ...b.path.split('/'))])));

  const env: Record<string, string> = {
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `postgresql+psycopg2://airflow@${names.container('db')}:${DB_PORT}/airflow`,
    AIRFLOW__CORE__EXECUTOR: input.executor,
    AIRFLOW__CORE__AUTH_MANAGER: SIMPLE_AUTH_MANAGER,
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS: 'True',
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    // A local Airflow runs what is saved: a new DAG is not paused (production's default is; `up` is not production).
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
    AIRFLOW__CORE__DAGS_FOLDER: input.dagsFolder,
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://${apiServer}:${API_PORT}/execution/`,
    AIRFLOW__API__BASE_URL: url,
    AIRFLOW__API_AUTH__JWT_SECRET: input.secret,
    AIRFLOW__API__SECRET_KEY: input.secret,
    AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST: JSON.stringify(bundles),
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: LOGS_FOLDER,
    AIRFLOW_RUNTIME_MANIFEST: manifestPath,
    AIRFLOW_RUNTIME_DAGS_FOLDER: input.dagsFolder,
    AIRFLOW_RUNTIME_MODE: 'executor',
    AIRFLOW_RUNTIME_EXECUTION_API_URL: `http://${apiServer}:${API_PORT}/execution/`,
    AIRFLOW_RUNTIME_DOCKER_NETWORK: names.taskNetwork,
    AIRFLOW_RUNTIME_BUNDLE_SOURCES: JSON.stringify(bundleSources),
    AIRFLOW_RUNTIME_DEPLOYMENT: names.id,
    // the task containers write their logs into the same volume, where the API server reads them
    AIRFLOW_RUNTIME_LOGS_SOURCE: names.logsVolume,
  };
  const binds = [
    `${input.dagRoot}:${input.dagsFolder}:ro`,
    `${input.stateFolder}:${CONTAINER_STATE}:ro`,
    `${names.logsVolume}:${LOGS_FOLDER}`,
    ...(input.pluginsFolder ? [`${input.pluginsFolder}:/opt/airflow/plugins:ro`] : []),
  ];
  const envList = (extra: Record<string, string> = {}) => Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`);
  const component = (name: string, title: string, image: string, cmd: string[], more: { env?: Record<string, string>; host?: Docker.HostConfig; user?: string } = {}): ComponentSpec => ({
    component: name,
    title,
    create: {
      name: names.container(name),
      Image: image,
      Cmd: cmd,
      // a port is published only when it is exposed too (what `docker run -p` sets for its flag)
      ExposedPorts: more.host?.PortBindings ? Object.fromEntries(Object.keys(more.host.PortBindings).map((p) => [p, {}])) : undefined,
      Env: envList(more.env),
      User: more.user,
      Labels: { ...labels, [LABEL_COMPONENT]: name },
      HostConfig: { ...HARDENING, NetworkMode: names.controlNetwork, Binds: binds, ...more.host },
    },
  });

  const db: ComponentSpec = {
    component: 'db',
    title: 'database (PostgreSQL)',
    create: {
      name: names.container('db'),
      Image: input.controlPlaneImage,
      User: 'postgres',
      Entrypoint: ['/bin/sh', '-c', databaseScript()],
      Cmd: [],
      Env: [`PGDATA=${DB_DATA}`],
      Labels: { ...labels, [LABEL_COMPONENT]: 'db' },
      HostConfig: { ...HARDENING, NetworkMode: names.controlNetwork, Binds: [`${names.dbVolume}:${DB_DATA}`] },
    },
  };
  const syncBundles = 'from airflow.dag_processing.bundles.manager import DagBundlesManager; DagBundlesManager().sync_bundles_to_db()';
  // The bundles go into the metadata DB before the processors start: two processors starting together collide on
  // the dag_bundle table's key otherwise (the loser exits).
  const migrate = component('migrate', 'database migration', input.controlPlaneImage, ['bash', '-c', `airflow db migrate && python -c '${syncBundles}'`]);

  const socketHost: Docker.HostConfig = input.dockerSocket
    ? { Binds: [...binds, `${input.dockerSocket.path}:/var/run/docker.sock`], GroupAdd: input.dockerSocket.gid === undefined ? undefined : [String(input.dockerSocket.gid)] }
    : {};
  const components: ComponentSpec[] = [
    // on the task network (the Execution API of the task containers), joined to the control network before it starts
    component('api-server', 'API server and UI', input.controlPlaneImage, ['airflow', 'api-server', '--host', '0.0.0.0', '--port', String(API_PORT), '--workers', '1'], {
      host: { NetworkMode: names.taskNetwork, PortBindings: { [`${API_PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(input.port) }] } },
    }),
    component('scheduler', 'scheduler', input.controlPlaneImage, ['airflow', 'scheduler'], {
      env: { DOCKER_HOST: 'unix:///var/run/docker.sock' },
      host: socketHost,
    }),
    component('triggerer', 'triggerer', input.controlPlaneImage, ['airflow', 'triggerer']),
  ];
  const processors = new Map<string, string>();
  for (const runtime of input.manifest.runtimes) {
    const own = Object.fromEntries(Object.entries(runtime.env).filter((e): e is [string, string] => e[1] !== null));
    for (const bundle of runtime.bundles) {
      const name = `dag-processor-${processorSuffix(bundle.name)}`;
      processors.set(bundle.name, name);
      components.push(component(name, `DAG processor of ${bundle.path === '.' ? 'the DAGs folder' : `${bundle.path}/`} (${runtime.image})`,
        input.processorImages.get(runtime.id) ?? runtime.image,
        // DAG code runs here: the runtime's own hardening and resources, as in its parse and task containers
        ['airflow', 'dag-processor', '--bundle-name', bundle.name], { env: { ...own, AIRFLOW_RUNTIME_ID: runtime.id }, host: { ...runtime.container.hostConfig } }));
    }
  }
  return { names, url, labels, db, migrate, components, processors, bundleSources };
}

/** Container names allow [a-zA-Z0-9_.-]: a bundle's name without our prefix, cut to its characters. */
function processorSuffix(bundleName: string): string {
  return bundleName.replace(/^airflow-runtime-/, '').replace(/[^a-zA-Z0-9_.-]/g, '_');
}

/**
 * PostgreSQL as the image's `postgres` user: a cluster made on first start in the volume (trust on the control
 * network, which only the control plane and the DAG processors join: no task container reaches it), then the
 * server in the foreground, so that stopping the container stops it.
 */
function databaseScript(): string {
  const bin = 'PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)';
  return [
    'set -e', bin,
    'chmod 700 "$PGDATA"',
    'if [ ! -s "$PGDATA/PG_VERSION" ]; then',
    '  "$PG_BIN/initdb" -D "$PGDATA" -U airflow --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null',
    '  echo "host all all all trust" >> "$PGDATA/pg_hba.conf"',
    '  echo "CREATE DATABASE airflow;" | "$PG_BIN/postgres" --single -D "$PGDATA" postgres >/dev/null',
    'fi',
    `exec "$PG_BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -p ${DB_PORT} -k /tmp -c max_connections=200`,
  ].join('\n');
}

/** The Airflow container path of a host file inside the DAGs folder, and back. */
export function hostPathOf(containerPath: string, dagRoot: string, dagsFolder: string): string | undefined {
  const relative = path.posix.relative(dagsFolder, containerPath);
  if (relative.startsWith('..') || path.posix.isAbsolute(relative)) return undefined;
  return relative ? path.join(dagRoot, ...relative.split('/')) : dagRoot;
}

export { deploymentPath };
