import type { RenderOutcome, TemplateFailure } from '../engine/types';

/** Which task's templates were rendered, and for which logical date. */
export interface RenderSubject {
  dagFile: string;
  dagId: string;
  taskId: string;
  /** YYYY-MM-DD; none: now. */
  date?: string;
  mapIndex?: number;
}

/** Why a logical date given as text cannot be used (a message for a person), or undefined when it can. */
export function logicalDateProblem(text: string): string | undefined {
  const found = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!found) return `a logical date is YYYY-MM-DD, not "${text}"`;
  const [year, month, day] = found.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return `${text} is not a day of the calendar`;
  return undefined;
}

/** Today as YYYY-MM-DD, in this machine's time zone (what a person means by today). */
export function today(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** `etl.extract`, `etl.extract[2]`. */
export function taskName(subject: RenderSubject): string {
  return `${subject.dagId}.${subject.taskId}${subject.mapIndex !== undefined ? `[${subject.mapIndex}]` : ''}`;
}

/** A template that did not render, for a person: the field, what went wrong, the template as written. */
export function templateFailureMessage(subject: RenderSubject, failure: TemplateFailure): string {
  return `${taskName(subject)}: the template of field '${failure.field}' did not render: ${failure.message}\n  template: ${failure.template}`;
}

/** `template_fields_renderers` names (Airflow's UI lexers) as Markdown code block languages. */
const LANGUAGE_OF_RENDERER: Record<string, string> = {
  bash: 'bash', sh: 'bash', sql: 'sql', postgresql: 'sql', mysql: 'sql', hql: 'sql', tsql: 'sql', json: 'json',
  py: 'python', python: 'python', python_callable: 'python', yaml: 'yaml', jinja: 'jinja', md: 'markdown', doc_md: 'markdown',
  powershell: 'powershell', html: 'html',
};

/** The rendered fields as a Markdown document: a heading per field, its value in a code block of its language. */
export function renderedDocument(subject: RenderSubject, outcome: RenderOutcome, runtime: string): string {
  const lines = [`# ${taskName(subject)}: rendered templates`, '',
    `Logical date ${subject.date ?? 'now'}${subject.mapIndex !== undefined ? `, map index ${subject.mapIndex}` : ''}, rendered in ${runtime} as \`airflow tasks render\` does.`, ''];
  for (const field of outcome.fields) {
    const fence = '`'.repeat(Math.max(3, ...[...field.value.matchAll(/`+/g)].map((m) => m[0].length + 1)));
    lines.push(`## ${field.name}`, '', `${fence}${LANGUAGE_OF_RENDERER[field.renderer ?? ''] ?? 'text'}`, field.value, fence, '');
  }
  if (!outcome.fields.length) lines.push('This task has no templated fields.', '');
  return lines.join('\n');
}

/** The rendered fields for a terminal: a header line per field, then its value as it is. */
export function renderedText(outcome: RenderOutcome): string[] {
  return outcome.fields.flatMap((field, i) => [...(i ? [''] : []), `# ${field.name}${field.renderer ? ` (${field.renderer})` : ''}`, field.value]);
}
