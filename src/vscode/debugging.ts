import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import * as vscode from 'vscode';
import { hostHarnessDir } from '../core/harness/layout';
import { dapFrame, DapReader } from '../core/engine/dapFraming';
import type { DebugOptions } from '../core/engine/types';
import { SECTION } from './settings';

export const DEBUG_TYPE = 'airflow-runtime';
/** The configuration key that ties a VS Code debug session to the run or parse it debugs. */
const RUN_KEY = 'airflowRuntimeRun';

/** A run or parse being debugged. */
interface Debuggee {
  /** Stops the run (its container or process tree is killed); resolves when it has ended. */
  stop(): Promise<void>;
  /** The program ended by itself: a disconnect after that is the session's end, not a Stop. */
  ended: boolean;
}

const debuggees = new Map<string, Debuggee>();

/**
 * Our debug type, with no other extension: the adapter is debugpy itself, in the runtime, on 127.0.0.1. A thin
 * proxy stands between VS Code and it so that Stop means gone: the run is killed before the session answers.
 * A `launch` configuration (launch.json) starts the task as the Testing view's Debug profile does; an `attach`
 * one connects to a port (`airflow-runtime run --debug PORT`).
 */
export function registerDebugging(context: vscode.ExtensionContext, debugTask: (target: LaunchTarget) => Promise<void>): void {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
      createDebugAdapterDescriptor: (session) => {
        const port = Number(session.configuration.port);
        const debuggee = debuggees.get(session.configuration[RUN_KEY]);
        // attached to a port someone else started (run --debug): debugpy as it is
        if (!debuggee) return new vscode.DebugAdapterServer(port, '127.0.0.1');
        return new vscode.DebugAdapterInlineImplementation(new StopMeansGone(port, debuggee));
      },
    }),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
      resolveDebugConfigurationWithSubstitutedVariables(_folder, config) {
        if (config.request === 'attach') return { ...config, justMyCode: config.justMyCode ?? justMyCode() };
        const { dagFile, dagId, taskId, mapIndex, date } = config as vscode.DebugConfiguration & LaunchTarget;
        if (!dagFile || !dagId || !taskId) {
          void vscode.window.showErrorMessage('Airflow: a launch configuration of type airflow-runtime needs dagFile, dagId and taskId.');
          return undefined;
        }
        // The task starts as a debug run of the Testing view; its own session attaches once debugpy listens.
        void debugTask({ dagFile, dagId, taskId, mapIndex, date });
        return undefined;
      },
    }),
    vscode.debug.onDidTerminateDebugSession((session) => debuggees.delete(session.configuration[RUN_KEY])),
  );
}

type DapMessage = vscode.DebugProtocolMessage & { seq?: number; type?: string; command?: string; event?: string };

/**
 * VS Code ↔ debugpy, message for message, but for a Disconnect or Terminate while the program still runs: the
 * run is stopped first (debugpy would otherwise let the program go on while the container is being killed),
 * and only then is the session told it is over.
 */
class StopMeansGone implements vscode.DebugAdapter {
  private readonly sent = new vscode.EventEmitter<vscode.DebugProtocolMessage>();
  readonly onDidSendMessage = this.sent.event;
  private readonly socket: Socket;
  private readonly reader = new DapReader();
  private closed = false;
  private stopping?: Promise<void>;

  constructor(port: number, private readonly debuggee: Debuggee) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.end());
  }

  handleMessage(message: DapMessage): void {
    if (message.type === 'request' && (message.command === 'disconnect' || message.command === 'terminate')) {
      // the program still runs: stop it first; it ended: debugpy may be gone already, nothing is left to ask
      if (!this.debuggee.ended) this.stopping ??= this.debuggee.stop();
      void (this.stopping ?? Promise.resolve()).finally(() => {
        this.sent.fire({ type: 'response', seq: 0, request_seq: message.seq, command: message.command, success: true } as vscode.DebugProtocolMessage);
        this.end();
      });
      return;
    }
    this.socket.write(dapFrame(message));
  }

  /** VS Code lets go of the adapter without waiting for our answer: debugpy must not see its client leave (it
   * would let the program run on) before the run is stopped. */
  dispose(): void {
    void (this.stopping ?? Promise.resolve()).finally(() => {
      this.socket.destroy();
      this.sent.dispose();
    });
  }

  private receive(chunk: Buffer): void {
    for (const message of this.reader.push(chunk) as DapMessage[]) {
      if (message.type === 'event' && (message.event === 'exited' || message.event === 'terminated')) this.debuggee.ended = true;
      this.sent.fire(message);
    }
  }

  /** The session is over (debugpy went away, or the run was stopped): VS Code is told once. */
  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.sent.fire({ type: 'event', seq: 0, event: 'terminated' } as vscode.DebugProtocolMessage);
    this.socket.destroy();
  }
}

/** What a launch configuration names. */
export interface LaunchTarget {
  dagFile: string;
  dagId: string;
  taskId: string;
  mapIndex?: number;
  date?: string;
}

/**
 * The engine's debug options for a run or parse named `name`: once debugpy listens, a VS Code session attaches
 * to it; stopping that session calls `stop` (the run is cancelled: its container or process tree is killed),
 * and the session ends when the run has.
 */
export function attachOnReady(name: string, file: string, stop: () => Promise<void>): DebugOptions {
  const id = randomUUID();
  return {
    onEnded: () => { const debuggee = debuggees.get(id); if (debuggee) debuggee.ended = true; },
    onReady: ({ host, port }) => {
      debuggees.set(id, { stop, ended: false });
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
      // the harness's own frames (how the task was started) are not the person's code: never stepped into
      const rules = [{ path: hostHarnessDir(), include: false }];
      void vscode.debug.startDebugging(folder, { type: DEBUG_TYPE, request: 'attach', name, host, port, justMyCode: justMyCode(), rules, [RUN_KEY]: id }).then((started) => {
        if (!started) void stop(); // nobody will ever attach: the run would wait for ever
      }, () => void stop());
    },
  };
}

function justMyCode(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('debug.justMyCode', true);
}
