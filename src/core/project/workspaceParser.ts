import { existsSync } from 'node:fs';
import { engineErrorOf, isCancelled, whatToDoText } from '../engine/errors';
import type { ParseResult } from '../harness/parseResult';
import type { DebugOptions, ProgressEvent } from '../engine/types';
import { DagFileStates } from './dagFileStates';
import type { EngineSession } from './engineSession';
import { ParseQueue } from './parseQueue';
import type { RuntimeIndex } from './runtimeIndex';

export interface WorkspaceParserEvents {
  /** A parse produced a result (the diagnostics and test items follow it). */
  onResult(file: string, result: ParseResult): void;
  onProgress(file: string, event: ProgressEvent): void;
  log(line: string): void;
}

/**
 * Parses the workspace's DAG files in their runtimes through one engine session, debounced and coalesced
 * per file, and keeps what each parse said in `states`. The editor's adapters only ask and listen.
 */
export class WorkspaceParser {
  readonly states = new DagFileStates();
  private readonly queue: ParseQueue;

  constructor(
    private readonly runtimes: RuntimeIndex,
    private readonly session: EngineSession,
    private readonly events: WorkspaceParserEvents,
    concurrency = 2,
  ) {
    this.queue = new ParseQueue((file, signal) => this.parseNow(file, signal), concurrency);
  }

  /** Parse `file` after `delayMs` of quiet; resolves when a parse that started after this call is done. */
  parse(file: string, delayMs = 0): Promise<void> {
    // A file deleted in the meantime is not brought back by a late request (a watcher, a tree refresh).
    if (!existsSync(file)) return Promise.resolve();
    this.states.add(file);
    return this.queue.request(file, delayMs);
  }

  /**
   * Parses `file` under the debugger (the engine runs its top-level code in a runtime of its own and waits for
   * a client): outside the queue, as a person asked for it now; the result is the file's like any other.
   */
  async debugParse(file: string, debug: (stop: () => Promise<void>) => DebugOptions): Promise<void> {
    this.queue.cancel(file);
    this.states.add(file);
    const controller = new AbortController();
    let parsed: Promise<void> = Promise.resolve();
    parsed = this.parseNow(file, controller.signal, debug(() => {
      controller.abort();
      return parsed;
    }));
    await parsed;
  }

  /** Parses every DAG file it knows (`states`) again, through the queue; resolves when all are done. */
  parseKnownFiles(): Promise<void> {
    return Promise.all(this.states.files.map((file) => this.queue.request(file))).then(() => undefined);
  }

  cancel(file: string): void {
    this.queue.cancel(file);
  }

  cancelAll(): void {
    this.queue.cancelAll();
  }

  /** The DAG file was deleted or renamed away. */
  forget(file: string): void {
    this.queue.cancel(file);
    this.runtimes.forget(file);
    this.states.remove(file);
  }

  dispose(): void {
    this.queue.dispose();
    this.states.dispose();
  }

  /** One function for every parse: a build the files of one runtime share logs each line once. */
  private readonly buildOutput = (line: string) => this.events.log(`build | ${line}`);

  private async parseNow(file: string, signal: AbortSignal, debug?: DebugOptions): Promise<void> {
    this.states.startParsing(file);
    const started = Date.now();
    try {
      const runtime = this.runtimes.runtimeOf(file);
      const { engine } = await this.session.engine();
      signal.throwIfAborted();
      const result = await engine.parse({ dagFile: file, runtime, signal, debug, onProgress: (event) => this.events.onProgress(file, event), onBuildOutput: this.buildOutput });
      // Forgotten (deleted, renamed) while it parsed: its result would bring back what was cleared.
      if (!this.states.get(file)) return;
      signal.throwIfAborted();
      this.states.finishParsing(file, { result });
      const dags = result.dags.length;
      this.events.log(`parsed ${file} in ${Date.now() - started} ms (${engine.kind}): ${dags} DAG${dags === 1 ? '' : 's'}, ${result.importErrors.length} import error(s)`);
      this.events.onResult(file, result);
    } catch (error) {
      if (isCancelled(error, signal)) {
        this.states.finishParsing(file, { cancelled: true });
        this.events.log(`parse of ${file} cancelled`);
        return;
      }
      const known = engineErrorOf(error);
      const failure = { code: known.code, message: known.message, hint: known.hint, problems: known.problems };
      this.states.finishParsing(file, { failure });
      this.events.log(`parse of ${file} failed: ${whatToDoText(failure)}`);
    }
  }
}
