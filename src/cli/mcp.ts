import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { callTool, TOOL_SPECS, type ToolHost } from '../core/assist/tools';
import { type EngineChoice, selectEngine, type SelectedEngine } from '../core/engine/select';
import { NO_HOST_ACCESS } from '../core/runtime/hostPowers';
import { findDagFiles } from '../core/workspace/dagFiles';
import { findProjectRoot } from '../core/workspace/root';
import { dagFileJudge, runtimeFor, type Where } from './runtimeFor';
import { EXIT, UsageError } from './usage';

export const MCP_HELP = `Usage: airflow-runtime mcp [--engine auto|docker|local] [--workspace DIR]

A Model Context Protocol server on stdio, for coding assistants (Claude Code, Cursor, VS Code's agent mode), over the
same core as this command: the tools parse_dag_file, run_task, test_dag, render_task, resolve_runtime and list_dag_files.
Start it in the project folder (or name it with --workspace). Paths are relative to the project; anything outside it is
refused. It never grants host access (not even with AIRFLOW_RUNTIME_ALLOW_HOST_ACCESS): a runtime file that needs it is
refused at its line, as it is without --allow-host-access. Secrets are shown as ***. It exits when its input closes,
and stops every container and process it started.

Options:
  --engine auto|docker|local   auto (default) uses Docker when reachable, else the local runtime emulator
  --workspace DIR              the project root (default: found from the current folder, as for every verb)`;

const VERSION = '0.1.0';

/** What the tools get of this process: the project's runtimes as the terminal sees them, without a host-access grant. */
function cliToolHost(root: string, choice: EngineChoice, workspace: string | undefined, log: (line: string) => void): ToolHost & { dispose(): Promise<void> } {
  // A workspace can write the MCP client's configuration (.vscode/mcp.json, .cursor/mcp.json), and with it this
  // process's environment and arguments: so no grant of host access is read from either.
  const where: Where = { cwd: root, workspace, hostAccess: NO_HOST_ACCESS };
  let selected: Promise<SelectedEngine> | undefined;
  return {
    root,
    runtimeOf: (dagFile) => runtimeFor(dagFile, where),
    dagFilesUnder: (absolute) => findDagFiles([absolute], dagFileJudge(where)).files,
    engine: () => {
      selected ??= selectEngine(choice, { warm: true }).then((s) => {
        log(`engine: ${s.reason}`);
        return s;
      });
      // a failed choice (Docker asked for and not there) is tried again on the next call
      return selected.catch((error: unknown) => {
        selected = undefined;
        throw error;
      });
    },
    dispose: async () => {
      const engine = await selected?.catch(() => undefined);
      await engine?.engine.dispose();
    },
  };
}

export async function mcpCommand(args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { engine: { type: 'string', default: 'auto' }, workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (flags.help) {
    out(MCP_HELP);
    return EXIT.ok;
  }
  if (positionals.length) throw new UsageError('mcp takes no arguments (it is started in the project folder, or given --workspace DIR)', 'mcp');
  if (!['auto', 'docker', 'local'].includes(flags.engine!)) throw new UsageError(`--engine must be auto, docker or local, not "${flags.engine}"`, 'mcp');
  const root = flags.workspace ? path.resolve(flags.workspace) : findProjectRoot(process.cwd());
  // stdout carries the protocol: everything for people goes to stderr, which MCP clients show as the server's log
  const host = cliToolHost(root, flags.engine as EngineChoice, flags.workspace && root, err);
  const inFlight = new Set<AbortController>();

  const server = new Server({ name: 'airflow-runtime', title: 'Airflow Runtime Isolation', version: VERSION }, {
    capabilities: { tools: {} },
    instructions: `Airflow DAG files of the project at ${root}, parsed and run inside the runtime each really runs in (its Docker image or `
      + 'local interpreter), never on the host\'s Python. After editing a DAG file, call parse_dag_file on it; run_task and test_dag run task code for real.',
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: TOOL_SPECS.map((spec) => ({
      name: spec.name, title: spec.title, description: spec.description, inputSchema: spec.inputSchema,
      annotations: { title: spec.title, readOnlyHint: !spec.runsTasks, destructiveHint: false, openWorldHint: false },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const controller = new AbortController();
    const abort = () => controller.abort();
    extra.signal.addEventListener('abort', abort, { once: true });
    inFlight.add(controller);
    const progressToken = request.params._meta?.progressToken;
    let progress = 0;
    try {
      const result = await callTool(request.params.name, request.params.arguments, host, {
        signal: controller.signal,
        onProgress: progressToken === undefined ? undefined : (message) => {
          extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: ++progress, message } }).catch(() => undefined);
        },
      });
      return { content: [{ type: 'text', text: result.text }], structuredContent: result.structured, ...(result.isError ? { isError: true } : {}) };
    } finally {
      inFlight.delete(controller);
      extra.signal.removeEventListener('abort', abort);
    }
  });

  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    transport.onclose = resolve;
    // a client that goes away by a signal: the same clean end as a closed input
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.connect(transport);
  err(`airflow-runtime mcp: serving the project at ${root} on stdio (engine ${flags.engine}; chosen on first use)`);
  await closed;
  // the input closed: stop what is running (containers, process trees), then the warm runtimes
  for (const controller of inFlight) controller.abort();
  await Promise.race([waitFor(() => inFlight.size === 0), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
  await host.dispose();
  await server.close().catch(() => undefined);
  return EXIT.ok;
}

async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 50));
}
