/**
 * *Airflow: Start Local Airflow* / *Stop Local Airflow*: the project's Airflow 3 as `airflow-runtime up` runs it
 * (the same core), its UI opened in the Simple Browser (or the system's), a status bar item while it runs, and
 * its DAG processors' import errors in Problems, in a collection of their own beside our parse diagnostics.
 */
import * as net from 'node:net';
import * as vscode from 'vscode';
import { version } from '../../package.json';
import { dagFileJudge, runtimeFor } from '../cli/runtimeFor';
import { type DeployedImportError } from '../core/deploy/importErrors';
import { DeploymentError, removeDeployment, runningUrl, startDeployment, watchDeployment, type DeploymentEvent } from '../core/deploy/deployment';
import { deploymentId, namesOf } from '../core/deploy/plan';
import { deploymentProjectOf } from '../core/deploy/project';
import { connectDocker } from '../core/engine/docker/connect';
import { describeFailure, EngineError } from '../core/engine/errors';
import { formatProblem, hasErrors } from '../core/problems';
import { findProjectRoot } from '../core/workspace/root';
import type { Project } from './project';
import { readSettings, userHostAccess } from './settings';

/** What the extension's tests read of it. */
export interface LocalAirflowView {
  url(): string | undefined;
  statusText(): string | undefined;
}

interface Running {
  projectRoot: string;
  id: string;
  url: string;
  watching: AbortController;
}

const SOURCE = 'airflow-runtime (local Airflow)';

export function registerLocalAirflow(context: vscode.ExtensionContext, project: Project): LocalAirflowView {
  const item = vscode.window.createStatusBarItem('airflowRuntime.localAirflow', vscode.StatusBarAlignment.Left, 49);
  item.name = 'Local Airflow';
  const diagnostics = vscode.languages.createDiagnosticCollection('airflow-local');
  let running: Running | undefined;
  let busy = false;

  const showRunning = (url: string) => {
    item.text = `$(server-process) Airflow: local ${url.replace(/^http:\/\//, '')}`;
    item.tooltip = `The project's local Airflow is running at ${url}. Click to open its UI; "Airflow: Stop Local Airflow" stops it.`;
    item.command = { title: 'Open the UI', command: 'airflowRuntime.openLocalAirflow' };
    item.show();
  };
  const hide = () => {
    item.hide();
    diagnostics.clear();
  };
  const publish = (errors: DeployedImportError[]) => {
    diagnostics.clear();
    const byFile = new Map<string, vscode.Diagnostic[]>();
    for (const error of errors) {
      const line = Math.max(0, error.at.line - 1);
      const diagnostic = new vscode.Diagnostic(new vscode.Range(line, 0, line, Number.MAX_SAFE_INTEGER), `${error.message} (the local Airflow's DAG processor${error.bundle ? ` ${error.bundle}` : ''})`, vscode.DiagnosticSeverity.Error);
      diagnostic.source = SOURCE;
      byFile.set(error.at.file, [...(byFile.get(error.at.file) ?? []), diagnostic]);
    }
    for (const [file, list] of byFile) diagnostics.set(vscode.Uri.file(file), list);
  };

  const watch = (docker: Awaited<ReturnType<typeof connectDocker>>['docker'], state: Running, plan: Parameters<typeof watchDeployment>[1], dagRoot: string, dagsFolder: string) => {
    const onEvent = (event: DeploymentEvent) => {
      if (event.kind === 'import-errors') publish(event.errors);
    };
    watchDeployment(docker, plan, { dagRoot, dagsFolder, onEvent, signal: state.watching.signal }).catch(async (error: unknown) => {
      if (running !== state) return;
      running = undefined;
      hide();
      project.log.error(`local Airflow: ${describeFailure(error)}`);
      await removeDeployment(docker, state.id, { volumes: false }).catch(() => undefined);
      void vscode.window.showErrorMessage(`Airflow: the local Airflow stopped: ${error instanceof DeploymentError ? error.message.split('\n')[0] : describeFailure(error)}`, 'Show Log').then((c) => c && project.log.show());
    });
  };

  const start = async (folder?: vscode.Uri) => {
    if (project.refuseUntrusted('Starting a local Airflow')) return undefined;
    const base = folder?.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!base) return void vscode.window.showInformationMessage('Airflow: open an Airflow project folder to start its local Airflow.');
    if (busy) return void vscode.window.showInformationMessage('Airflow: the local Airflow is starting or stopping already.');
    const projectRoot = findProjectRoot(base);
    if (running?.projectRoot === projectRoot) return openUi(running.url);
    busy = true;
    try {
      const { docker } = await connectDocker(readSettings().engine.dockerEndpoint);
      const where = { cwd: projectRoot, workspace: projectRoot, hostAccess: userHostAccess() };
      const show = (file: string) => vscode.workspace.asRelativePath(file);
      const { project: deployment, problems } = deploymentProjectOf(projectRoot, dagFileJudge(where), (file) => runtimeFor(file, where), show, `airflow-runtime ${version}`);
      if (!deployment || hasErrors(problems)) {
        for (const p of problems) project.log.error(formatProblem(p, show(p.file)));
        throw new DeploymentError(`the runtime files have errors (${problems.filter((p) => p.severity === 'error').length}): fix them first`, 'they are in Problems and in the log');
      }
      const id = deploymentId(projectRoot);
      const already = await runningUrl(docker, projectRoot);
      if (already) {
        // started by `airflow-runtime up --detach` (or another window): shown and watched here, stopped from here too
        running = { projectRoot, id, url: already, watching: new AbortController() };
        showRunning(already);
        return openUi(already);
      }
      const outcome = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Airflow: starting the local Airflow', cancellable: true }, async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        return startDeployment(docker, {
          ...deployment, port: await freePortFrom(8080), signal: controller.signal,
          onEvent: (event) => {
            const text = event.kind === 'progress' ? event.message : event.kind === 'up' ? `up: ${event.title}` : event.kind === 'ui' ? `UI answering at ${event.url}` : undefined;
            if (text) {
              project.log.info(`local Airflow: ${text}`);
              if (!text.startsWith('  ')) progress.report({ message: text });
            }
          },
        });
      });
      running = { projectRoot, id, url: outcome.url, watching: new AbortController() };
      showRunning(outcome.url);
      watch(docker, running, outcome.plan, deployment.dagRoot, deployment.dagsFolder);
      project.log.info(`local Airflow ${outcome.airflowVersion} is up at ${outcome.url} (executor ${outcome.executor})`);
      void openUi(outcome.url);
      return outcome.url;
    } catch (error) {
      if (error instanceof EngineError && error.code === 'cancelled') return undefined;
      throw error instanceof DeploymentError ? new Error(error.describe()) : error;
    } finally {
      busy = false;
    }
  };

  const stop = async () => {
    const base = running?.projectRoot ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!base) return;
    busy = true;
    try {
      running?.watching.abort();
      const id = running?.id ?? deploymentId(findProjectRoot(base));
      running = undefined;
      hide();
      const { docker } = await connectDocker(readSettings().engine.dockerEndpoint);
      const removed = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Airflow: stopping the local Airflow' },
        () => removeDeployment(docker, id, { volumes: false }));
      project.log.info(`local Airflow stopped: ${removed.containers.length} containers and ${removed.networks.length} networks removed (${namesOf(id).dbVolume} kept)`);
    } finally {
      busy = false;
    }
  };

  context.subscriptions.push(item, diagnostics,
    vscode.commands.registerCommand('airflowRuntime.startLocalAirflow', wrap(project, 'startLocalAirflow', start)),
    vscode.commands.registerCommand('airflowRuntime.stopLocalAirflow', wrap(project, 'stopLocalAirflow', stop)),
    vscode.commands.registerCommand('airflowRuntime.openLocalAirflow', () => running && openUi(running.url)),
    { dispose: () => running?.watching.abort() },
  );
  return { url: () => running?.url, statusText: () => (running ? item.text : undefined) };
}

/** The Simple Browser beside the editor, else the system's browser. */
async function openUi(url: string): Promise<string> {
  try {
    await vscode.commands.executeCommand('simpleBrowser.show', url);
  } catch {
    await vscode.env.openExternal(vscode.Uri.parse(url));
  }
  return url;
}

/** A failing command is said with its words and a "Show Log" action (as every command of ours). */
function wrap<A extends unknown[], R>(project: Project, name: string, handler: (...args: A) => Promise<R>): (...args: A) => Promise<R | undefined> {
  return async (...args: A) => {
    try {
      return await handler(...args);
    } catch (error) {
      const text = describeFailure(error);
      project.log.error(`${name}: ${text}`);
      void vscode.window.showErrorMessage(`Airflow: ${text}`, 'Show Log').then((choice) => choice && project.log.show());
      return undefined;
    }
  };
}

/** 8080 when it is free, else the next free port above it. */
async function freePortFrom(first: number): Promise<number> {
  for (let port = first; port < first + 100; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new DeploymentError(`no free port on 127.0.0.1 from ${first} to ${first + 99}`, 'free one of them');
}
