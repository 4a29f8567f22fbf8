import { EngineError } from './errors';
import type { HarnessEvent } from '../harness/harnessEvents';
import { type HarnessJob, jobName, type RenderedField, type RenderOutcome, type RenderRequest, type RunOutcome, type TemplateFailure } from './types';

/**
 * A render's events gathered into its outcome, the same for both engines: each field's value arrives in pieces
 * (`rendered` events, the last one marked), a template that failed as one `render-failed` event.
 */
export class RenderedFields {
  private readonly fields: RenderedField[] = [];
  private open = false;
  private failure?: TemplateFailure;
  /** The DAG file did not load: the harness said where (on its output, which the caller shows), exit 1. */
  private dagFileFailed = false;

  take(event: HarnessEvent): void {
    if (event.event === 'import-error') this.dagFileFailed = true;
    if (event.event === 'render-failed' && typeof event.field === 'string') {
      this.failure = { field: event.field, template: event.template ?? '', message: event.message ?? 'the template did not render' };
    }
    if (event.event !== 'rendered' || typeof event.field !== 'string') return;
    const current = this.fields[this.fields.length - 1];
    if (this.open && current?.name === event.field) current.value += event.text ?? '';
    else this.fields.push({ name: event.field, value: event.text ?? '', renderer: event.renderer ?? undefined, pythonType: event.pythonType });
    this.open = event.last === false;
  }

  /** The outcome of a harness that ended with `exitCode` (0 or 1); a harness that said neither fields nor a failure did not do its job. */
  outcome(exitCode: 0 | 1, durationMs: number, what: string): RenderOutcome {
    if (exitCode === 0 && !this.open) return { exitCode: 0, fields: this.fields, durationMs };
    if (exitCode === 1 && this.failure) return { exitCode: 1, fields: [], failure: this.failure, durationMs };
    if (exitCode === 1 && this.dagFileFailed) return { exitCode: 1, fields: [], durationMs };
    throw new EngineError('harness-failed', `${what}: the harness ended (exit ${exitCode}) without ${exitCode === 0 ? 'every field' : 'saying which template failed'}; its output is above`,
      'check that the runtime has Airflow 2.9+ or 3.x (airflow-runtime doctor)');
  }
}

/** A render as both engines do it: their own harness run of the `render` verb, its events gathered. */
export async function renderThrough(request: RenderRequest, runOnce: (job: HarnessJob, onEvent: (event: HarnessEvent) => void) => Promise<RunOutcome>): Promise<RenderOutcome> {
  const fields = new RenderedFields();
  const job: HarnessJob = { verb: 'render', request };
  const { exitCode, durationMs } = await runOnce(job, (event) => fields.take(event));
  return fields.outcome(exitCode, durationMs, jobName(job));
}
