import type { Manifest, RuntimeFacts } from './manifest';
import { MANIFEST_FILE } from './manifest';

/** The deployment fragments `export` writes beside the manifest. */
export const BUNDLE_CONFIG_FILE = 'dag_bundle_config_list.json';
export const COMMANDS_FILE = 'deploy-commands.sh';

export const LOCAL_DAG_BUNDLE = 'airflow.dag_processing.bundles.local.LocalDagBundle';

/** Where a bundle's folder is in the deployment. */
export function deploymentPath(deploymentDagsFolder: string, bundlePath: string): string {
  const root = deploymentDagsFolder.replace(/\/+$/, '') || '/';
  return bundlePath === '.' ? root : `${root === '/' ? '' : root}/${bundlePath}`;
}

/** Airflow 3's `[dag_processor] dag_bundle_config_list`: one LocalDagBundle per parse bundle. */
export function bundleConfigList(manifest: Manifest, deploymentDagsFolder: string): { name: string; classpath: string; kwargs: { path: string } }[] {
  return manifest.runtimes.flatMap((runtime) => runtime.bundles.map((bundle) => ({
    name: bundle.name,
    classpath: LOCAL_DAG_BUNDLE,
    kwargs: { path: deploymentPath(deploymentDagsFolder, bundle.path) },
  })));
}

export function bundleConfigText(manifest: Manifest, deploymentDagsFolder: string): string {
  return `${JSON.stringify(bundleConfigList(manifest, deploymentDagsFolder), null, 2)}\n`;
}

/**
 * How a Celery deployment's workers reach a task's image: `per-image`, one worker pool per runtime, each running in
 * its runtime's image and consuming its queue (Airflow 2 and 3); `lean`, one pool of identical workers holding
 * Airflow core, the Celery provider and the Docker client, each launching every task in its runtime's image (Airflow 3).
 */
export type WorkerMode = 'per-image' | 'lean';
export const WORKER_MODES: readonly WorkerMode[] = ['per-image', 'lean'];

/** A word as the shell reads it: quoted only when it must be. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The processes a deployment runs, one command per line, each to run in its runtime's image with the policy
 * package installed and AIRFLOW_RUNTIME_MANIFEST pointing at the manifest. Not a script to run as it is.
 */
export function deployCommandsText(manifest: Manifest, facts: ReadonlyMap<string, RuntimeFacts>, deploymentDagsFolder: string, workers: WorkerMode = 'per-image'): string {
  const lines: string[] = [
    `# Deployment commands for ${MANIFEST_FILE}, written by \`airflow-runtime export\` (${manifest.generator}).`,
    '# One process per line, each in its runtime\'s image, with the airflow-runtime-policy package installed and',
    `# AIRFLOW_RUNTIME_MANIFEST=<path of ${MANIFEST_FILE}> and AIRFLOW_RUNTIME_DAGS_FOLDER=${shellWord(deploymentDagsFolder)} set.`,
    '# Not a script to run as it is: start each line where that image runs (a container, a pod, a systemd unit).',
    '',
    '# Runtimes:',
    ...manifest.runtimes.map((r) => `#   ${r.id}  ${r.image}${r.digest ? `@${r.digest}` : ''}  Airflow ${facts.get(r.id)?.airflowMajor ?? '?'}  queue ${r.queue}${r.executor ? `  executor ${r.executor}` : ''}`),
    '',
    `# Airflow 3: [dag_processor] dag_bundle_config_list = the contents of ${BUNDLE_CONFIG_FILE}`,
    '# (or AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST), then one DAG processor per bundle:',
  ];
  for (const runtime of manifest.runtimes) {
    for (const bundle of runtime.bundles) lines.push(`AIRFLOW_RUNTIME_ID=${runtime.id} airflow dag-processor --bundle-name ${shellWord(bundle.name)}`);
  }
  lines.push('', '# Airflow 2: [scheduler] standalone_dag_processor = True, then one DAG processor per bundle folder:');
  for (const runtime of manifest.runtimes) {
    for (const bundle of runtime.bundles) lines.push(`AIRFLOW_RUNTIME_ID=${runtime.id} airflow dag-processor --subdir ${shellWord(deploymentPath(deploymentDagsFolder, bundle.path))}`);
  }
  lines.push('', ...workerLines(manifest, workers));
  return `${lines.join('\n')}\n`;
}

function workerLines(manifest: Manifest, workers: WorkerMode): string[] {
  if (workers === 'per-image') {
    return [
      '# Workers (per-image mode): one Celery worker per runtime, in its image, consuming its queue',
      '# (Edge workers: airflow edge worker --queues <queue>):',
      ...manifest.runtimes.map((runtime) => `AIRFLOW_RUNTIME_ID=${runtime.id} airflow celery worker --queues ${shellWord(runtime.queue)}`),
    ];
  }
  const queues = [...new Set(manifest.runtimes.map((runtime) => runtime.queue))].join(',');
  return [
    '# Workers (lean mode, Airflow 3): as many identical workers as you like, NOT in a runtime image but in a lean one',
    '# (Airflow core, the Celery provider, airflow-runtime-policy[launcher]) with a Docker socket; each launches every',
    '# task in its runtime\'s image. Beside AIRFLOW_RUNTIME_MANIFEST: AIRFLOW_RUNTIME_EXECUTION_API_URL (the API server',
    '# as task containers reach it), and where the DAGs are on the Docker host (AIRFLOW_RUNTIME_BUNDLE_SOURCES); see',
    '# the policy package\'s README. The scheduler keeps the stock CeleryExecutor.',
    `AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=airflow_runtime_policy.celery_worker.CELERY_CONFIG airflow celery worker --queues ${shellWord(queues)}`,
  ];
}
