import { statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { version } from '../../package.json';
import { type DeploymentEvent, DeploymentError, removeDeployment, startDeployment, watchDeployment } from '../core/deploy/deployment';
import { deploymentProjectOf } from '../core/deploy/project';
import { connectDocker } from '../core/engine/docker/connect';
import { describeFailure, EngineError } from '../core/engine/errors';
import { hasErrors } from '../core/problems';
import { findProjectRoot } from '../core/workspace/root';
import { displayPath, formatProblems } from './display';
import { dagFileJudge, hostAccessOf, runtimeFor } from './runtimeFor';
import { cancelOnSignals } from './signals';
import { EXIT, UsageError } from './usage';

export const UP_HELP = `Usage: airflow-runtime up [PATH] [--port N] [--detach]

Runs a real Airflow 3 of the project (PATH or any folder in it; default: the current folder) on this machine's
Docker engine, from its runtime files, with nothing else to set up:
  - the API server and UI on 127.0.0.1:PORT only (Airflow's simple auth manager, every user admin: the UI and the
    REST API need no password there; GET /auth/token gives a token);
  - the scheduler, whose executor starts each task in its runtime's container; the triggerer;
  - one DAG processor per parse bundle, each in its runtime's image (a DAG is parsed where it runs);
  - PostgreSQL as the metadata database.
The DAGs folder (and plugins/) are mounted read-only: a DAG file saved is parsed again within seconds. The
database and the logs are Docker volumes named after the project, kept by \`down\` (a second \`up\` has the run
history) and removed by \`down --volumes\`. Nothing is written into the project. The control plane runs from an
image built on the project's runtime image (PostgreSQL, our policy package and the Docker SDK added; built once
per input, then reused), so the runtime images need nothing added.

Prints the UI's URL, each component as it comes up, and the DAG processors' import errors as path:line. Ctrl-C
stops and removes every container and network of the deployment (volumes kept).

Every runtime must be the same Airflow 3 version; Airflow 2 runtimes are refused (use \`export\` and the per-image
Celery mode for them).

Options:
  --port N              the UI's port on 127.0.0.1 (default 8080)
  --detach              return once everything is up; stop it with \`airflow-runtime down\`
  --workspace DIR       the project root (default: found from the files, as everywhere)
  --allow-host-access   read runtime files as if host access were allowed (also AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS=1)

Exit codes: 0 stopped with Ctrl-C (or up, with --detach); 2 bad usage, runtime files with errors, Airflow 2
runtimes, no Docker, a port in use, a component that did not start or stopped (nothing is left running).`;

export async function upCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      port: { type: 'string' }, detach: { type: 'boolean' }, workspace: { type: 'string' },
      'allow-host-access': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    out(UP_HELP);
    return EXIT.ok;
  }
  const port = portOf(flags.port, 'up');
  const start = projectFolderOf(positionals, 'up');
  const cwd = process.cwd();
  const projectRoot = flags.workspace ? path.resolve(flags.workspace) : findProjectRoot(start);
  const show = (file: string) => displayPath(file, cwd);
  const where = { cwd, workspace: projectRoot, hostAccess: hostAccessOf(flags['allow-host-access']) };

  const started = Date.now();
  const cancel = cancelOnSignals(err, 'stopping the local Airflow');
  try {
    const { project, problems } = deploymentProjectOf(projectRoot, dagFileJudge(where), (file) => runtimeFor(file, where), show, `airflow-runtime ${version}`);
    for (const line of formatProblems(problems, cwd)) err(line);
    if (!project || hasErrors(problems)) {
      err('airflow-runtime: not started: fix the problems above');
      return EXIT.configOrInfra;
    }
    const connection = await connectDocker();
    if (!connection.local) {
      err(`airflow-runtime: \`up\` needs a Docker engine on this machine (it mounts the DAGs folder); ${connection.endpoint.url} (${connection.endpoint.origin}) is not local`);
      return EXIT.configOrInfra;
    }
    const docker = connection.docker;
    const onEvent = (event: DeploymentEvent) => printEvent(event, out, err, show, started);
    out(`starting the local Airflow of ${show(projectRoot)} (${project.manifest.runtimes.length} runtime${project.manifest.runtimes.length === 1 ? '' : 's'}, Docker ${connection.version})`);
    const deployment = await startDeployment(docker, { ...project, port, signal: cancel.signal, onEvent });
    out(`Airflow ${deployment.airflowVersion} is up: ${deployment.url} (no login: every user is admin; a REST API token from ${deployment.url}/auth/token)`);
    if (deployment.executor === 'LocalExecutor') err('note: the control plane has no container executor yet: tasks run in the scheduler\'s container (LocalExecutor)');
    if (flags.detach) {
      out(`stop it with: airflow-runtime down ${show(projectRoot) === '' ? '.' : show(projectRoot)}`);
      return EXIT.ok;
    }
    out('Ctrl-C stops it');
    let failure: unknown;
    try {
      await watchDeployment(docker, deployment.plan, { dagRoot: project.dagRoot, dagsFolder: project.dagsFolder, onEvent, signal: cancel.signal });
    } catch (error) {
      failure = error;
    }
    const removed = await removeDeployment(docker, deployment.plan.names.id, { volumes: false });
    out(`stopped: ${removed.containers.length} containers and ${removed.networks.length} networks removed; the database and logs are kept (down --volumes removes them)`);
    if (failure) throw failure;
    return EXIT.ok;
  } catch (error) {
    if (error instanceof DeploymentError) {
      err(`airflow-runtime: ${error.describe()}`);
      return EXIT.configOrInfra;
    }
    if (error instanceof UsageError) throw error;
    if (error instanceof EngineError && error.code === 'cancelled') {
      err('airflow-runtime: cancelled: nothing of the deployment is left running');
      return EXIT.configOrInfra;
    }
    err(`airflow-runtime: ${describeFailure(error)}`);
    return EXIT.configOrInfra;
  } finally {
    cancel.dispose();
  }
}

function printEvent(event: DeploymentEvent, out: (line: string) => void, err: (line: string) => void, show: (file: string) => string, started: number): void {
  const at = `${((Date.now() - started) / 1000).toFixed(1)} s`;
  switch (event.kind) {
    case 'progress':
      err(event.message);
      break;
    case 'up':
      out(`up: ${event.title} (${at})`);
      break;
    case 'ui':
      out(`UI answering at ${event.url} (${at})`);
      break;
    case 'stopped':
      err(`stopped: ${event.title}\n${event.log}`);
      break;
    case 'import-errors':
      if (event.errors.length === 0) out('import errors: none');
      for (const error of event.errors) {
        const importer = error.at.file === error.file ? '' : ` (importing ${show(error.file)})`;
        out(`${show(error.at.file)}:${error.at.line}:1: error: ${error.message}${importer} [DAG processor ${error.bundle ?? ''}]`);
      }
      break;
  }
}

export function portOf(text: string | undefined, verb: string): number {
  if (text === undefined) return 8080;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (1-65535), not "${text}"`, verb);
  return port;
}

export function projectFolderOf(positionals: string[], verb: string): string {
  if (positionals.length > 1) throw new UsageError(`${verb} takes one project folder`, verb);
  const folder = path.resolve(positionals[0] ?? '.');
  try {
    if (statSync(folder).isDirectory()) return folder;
  } catch {
    // said below
  }
  throw new UsageError(`no such folder: ${positionals[0]}`, verb);
}
