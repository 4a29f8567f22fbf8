import type { EffectiveRuntime } from '../runtime/resolve';
import type { ParseResult } from '../harness/parseResult';

export type EngineKind = 'docker' | 'local';

/** Something long is happening (pull, build, venv creation): for a progress bar or a status line. */
export interface ProgressEvent {
  stage: 'pull' | 'build' | 'venv' | 'migrate' | 'start' | 'parse' | 'run' | 'copy';
  message: string;
}

export interface WorkOptions {
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Something a person must be told once, beside the result: the engine fell back to the embedded default. */
  onNotice?: (message: string) => void;
  /** The whole output of a runtime's build (pip, apt-get, uv), line by line: the log a person opens when it fails. */
  onBuildOutput?: (line: string) => void;
}

/** Run under debugpy: the harness waits for a Debug Adapter Protocol client before the DAG file's code runs. */
export interface DebugOptions {
  /** The port on 127.0.0.1 to listen on; a free one when not given. */
  port?: number;
  /** debugpy listens: a client connects to this endpoint (always on 127.0.0.1). */
  onReady(endpoint: { host: string; port: number }): void;
  /** The program ended by itself (before the debugger's connection closes): no one stopped it. */
  onEnded?(): void;
}

export interface ParseRequest extends WorkOptions {
  dagFile: string;
  runtime: EffectiveRuntime;
  /** In a runtime of its own, the file's top-level code under debugpy, with no parse deadline. */
  debug?: DebugOptions;
  /** In a runtime of its own even on a warm engine (a retry after a warm runtime ended under it). */
  cold?: boolean;
}

/** One task of a DAG file, for a logical date, in the file's runtime: what a run and a render share. */
export interface TaskRequest extends WorkOptions {
  dagFile: string;
  runtime: EffectiveRuntime;
  dagId: string;
  taskId: string;
  /** YYYY-MM-DD; the harness's default is now. */
  date?: string;
  mapIndex?: number;
}

export interface RunRequest extends TaskRequest {
  debug?: DebugOptions;
  /** Each log line as it comes, without its line break. */
  onLog: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** A task instance of a whole-DAG run changed state (`running`, then `success`, `failed`, `skipped`...). */
export interface TaskStateEvent {
  taskId: string;
  /** -1 for a task that is not mapped. */
  mapIndex: number;
  state: string;
  durationMs?: number;
  /** From the end of the run: the state it ended in (tasks that never started say so here). */
  final?: boolean;
}

/** The whole DAG, as `dag.test()` / `airflow dags test` runs it, in the DAG file's runtime. */
export interface DagTestRequest extends WorkOptions {
  dagFile: string;
  runtime: EffectiveRuntime;
  dagId: string;
  /** YYYY-MM-DD; the harness's default is now. */
  date?: string;
  /** The run's conf, a JSON object as text. */
  conf?: string;
  onLog: (line: string, stream: 'stdout' | 'stderr') => void;
  onTask?: (event: TaskStateEvent) => void;
}

/** One task's templated fields for a logical date, as `airflow tasks render` shows them, in its runtime. */
export interface RenderRequest extends TaskRequest {
  /** What the DAG file and Airflow print while the task is loaded, without its line break. */
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** A templated field after rendering, in the operator's `template_fields` order. */
export interface RenderedField {
  name: string;
  /** The rendered value as text: a string as it is, anything else as Python prints it (pprint). */
  value: string;
  /** The operator's `template_fields_renderers` entry for it (`bash`, `sql`, `json`, `py`...), when it has one. */
  renderer?: string;
  /** The rendered value's Python type (`str`, `dict`, `NoneType`...). */
  pythonType?: string;
}

/** A template that did not render: the field, its template as written, and Jinja's (or the macro's) complaint. */
export interface TemplateFailure {
  field: string;
  template: string;
  message: string;
}

/** 0 every field rendered (`fields`); 1 a template failed (`failure`). Infrastructure problems are thrown instead. */
export interface RenderOutcome {
  exitCode: 0 | 1;
  fields: RenderedField[];
  failure?: TemplateFailure;
  durationMs: number;
}

/** What runs a task's DAG file in a harness process of its own: a task run, a whole-DAG run, a render. */
export type HarnessJob = { verb: 'run'; request: RunRequest } | { verb: 'test-dag'; request: DagTestRequest } | { verb: 'render'; request: RenderRequest };

/** The harness's arguments for a job: one rule for both engines. */
export function harnessRunArgs(job: HarnessJob, fileInRuntime: string, dagsFolder: string): string[] {
  const { request } = job;
  const common = ['--file', fileInRuntime, '--dags-folder', dagsFolder, '--dag-id', request.dagId, ...(request.date ? ['--date', request.date] : [])];
  if (job.verb === 'test-dag') return ['test-dag', ...common, ...(job.request.conf ? ['--conf', job.request.conf] : [])];
  const { taskId, mapIndex } = job.request;
  return [job.verb, ...common, '--task-id', taskId, ...(mapIndex !== undefined ? ['--map-index', String(mapIndex)] : [])];
}

/** What a job is, for people: `the task`, `DAG etl`, `the templates of etl.extract`. */
export function jobName(job: HarnessJob): string {
  if (job.verb === 'test-dag') return `DAG ${job.request.dagId}`;
  return job.verb === 'render' ? `the templates of ${job.request.dagId}.${job.request.taskId}` : 'the task';
}

/** 0 the task (or the DAG run) succeeded, 1 it failed; infrastructure problems are thrown as EngineError instead. */
export interface RunOutcome {
  exitCode: 0 | 1;
  durationMs: number;
}

/** Docker and the local runtime emulator implement this one interface; the CLI and the extension call it. */
export interface Engine {
  readonly kind: EngineKind;
  /** What is used, for people: `docker at unix:///var/run/docker.sock (20.10.24)`, `local python /x/bin/python`. */
  describe(): string;
  parse(request: ParseRequest): Promise<ParseResult>;
  run(request: RunRequest): Promise<RunOutcome>;
  /** The whole DAG in its runtime, as `dag.test()` runs it; each task's state is told as it changes. */
  testDag(request: DagTestRequest): Promise<RunOutcome>;
  /** One task's templated fields for a logical date, rendered in its runtime as `airflow tasks render` does. */
  render(request: RenderRequest): Promise<RenderOutcome>;
  /**
   * A runtime file changed (at `changedAt`; none named: a setting): warm runtimes it may concern are retired
   * where the next parse could not tell (see warm.ts `retireServersAfterChange`). Returns how many.
   */
  retireWarmRuntimes(changedFile?: string, changedAt?: number): number;
  dispose(): Promise<void>;
}
