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
