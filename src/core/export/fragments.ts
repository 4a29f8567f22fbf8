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

/** A word as the shell reads it: quoted only when it must be. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The processes a deployment runs, one command per line, each to run in its runtime's image with the policy
 * package installed and AIRFLOW_RUNTIME_MANIFEST pointing at the manifest. Not a script to run as it is.
 */
export function deployCommandsText(manifest: Manifest, facts: ReadonlyMap<string, RuntimeFacts>, deploymentDagsFolder: string): string {
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
  lines.push('', '# Workers: one Celery worker per runtime, consuming its queue (Edge workers: airflow edge worker --queues <queue>):');
  for (const runtime of manifest.runtimes) lines.push(`AIRFLOW_RUNTIME_ID=${runtime.id} airflow celery worker --queues ${shellWord(runtime.queue)}`);
  return `${lines.join('\n')}\n`;
}
