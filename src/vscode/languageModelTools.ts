import * as path from 'node:path';
import * as vscode from 'vscode';
import { callTool, TOOL_SPECS, type ToolHost, type ToolName, type ToolSpec } from '../core/assist/tools';
import type { Engine } from '../core/engine/types';
import type { Project } from './project';
import type { TaskTesting } from './testing';

/** Tools that read runtime files only: they work in restricted mode, as the DAG tree and runtime-file editing do. */
const READS_ONLY: ReadonlySet<ToolName> = new Set(['resolve_runtime', 'list_dag_files']);

/**
 * Our verbs as language-model tools (agent mode), the same functions as `airflow-runtime mcp` (core/assist/tools):
 * the project's runtimes as the editor resolves them (this person's host-access grant, the editor's engine), runs
 * of task code confirmed by the user first, and everything that executes DAG code refused in restricted mode. A
 * tool's task or DAG run is shown as a person's is: its Testing view item, its output, the graph's states.
 */
export function registerLanguageModelTools(context: vscode.ExtensionContext, project: Project, testing: TaskTesting): void {
  if (typeof vscode.lm?.registerTool !== 'function') return;
  for (const spec of TOOL_SPECS) context.subscriptions.push(vscode.lm.registerTool(spec.name, new ProjectTool(spec, project, testing)));
}

/** The session's engine, with task and DAG runs going through the Testing view (a task it does not know runs as is). */
function shownInEditor(engine: Engine, testing: TaskTesting): Engine {
  return {
    kind: engine.kind,
    describe: () => engine.describe(),
    parse: (request) => engine.parse(request),
    run: async (request) => (await testing.runTaskFor(request)) ?? engine.run(request),
    testDag: async (request) => (await testing.runDagFor(request)) ?? engine.testDag(request),
    render: (request) => engine.render(request),
    retireWarmRuntimes: (changedFile, changedAt) => engine.retireWarmRuntimes(changedFile, changedAt),
    // the session owns the engine: a tool's call never ends it
    dispose: async () => undefined,
  };
}

class ProjectTool implements vscode.LanguageModelTool<Record<string, unknown>> {
  constructor(private readonly spec: ToolSpec, private readonly project: Project, private readonly testing: TaskTesting) {}

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<Record<string, unknown>>): vscode.PreparedToolInvocation {
    const input = options.input ?? {};
    const subject = [input.dagFile ?? input.path, input.dagId, input.taskId].filter((part) => part !== undefined).map(String).join(' ');
    const invocationMessage = `${this.spec.title}${subject ? `: ${subject}` : ''}`;
    if (!this.spec.runsTasks) return { invocationMessage };
    return {
      invocationMessage,
      confirmationMessages: {
        title: this.spec.title,
        message: new vscode.MarkdownString(`Run the code of \`${subject}\` in its runtime (its container or local interpreter)? It runs for real, with the runtime's Variables and Connections.`),
      },
    };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<Record<string, unknown>>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    const text = (value: string) => new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(value)]);
    if (!vscode.workspace.isTrusted && !READS_ONLY.has(this.spec.name)) {
      return text(`${this.spec.name} refused: it runs the DAG file's code, and this workspace is not trusted (restricted mode).\nWhat to do: ask the user to trust the workspace (Workspaces: Manage Workspace Trust); resolve_runtime and list_dag_files work without it.`);
    }
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!root) return text(`${this.spec.name} needs a folder: open the project's folder first.`);
    const controller = new AbortController();
    const cancelled = token.onCancellationRequested(() => controller.abort());
    try {
      const result = await callTool(this.spec.name, options.input, this.hostFor(root), { signal: controller.signal, onProgress: (message) => this.project.log.info(`${this.spec.name}: ${message}`) });
      return text(result.text);
    } finally {
      cancelled.dispose();
    }
  }

  private hostFor(root: string): ToolHost {
    return {
      root,
      runtimeOf: (dagFile) => this.project.runtimes.runtimeOf(dagFile),
      dagFilesUnder: (absolute) => this.project.parser.states.files.filter((file) => file === absolute || file.startsWith(absolute + path.sep)),
      engine: async () => {
        const selected = await this.project.session.engine();
        return { engine: shownInEditor(selected.engine, this.testing), reason: selected.reason };
      },
    };
  }
}
