import { Document, isCollection, isScalar } from 'yaml';
import type { EffectiveRuntime, ValueSource } from './resolve';
import { redactedValues } from './secrets';

/** How a path is shown: relative to the terminal's folder for the CLI, to the workspace in the editor. */
export type ShowPath = (file: string) => string;

/** Where a value came from, for people: `dags/airflow-runtime.yaml:3`, `setting airflowRuntime.pull`, `default`. */
export function describeSource(source: ValueSource, show: ShowPath): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'settings':
      return `setting ${source.setting}${source.file ? ` (${show(source.file)})` : ''}`;
    case 'file':
      return `${show(source.file)}:${source.line}`;
    case 'flag':
      return `command line ${source.flag}`;
  }
}

/** YAML a person can read and paste into a runtime file, each value with its source as a comment; secrets as `***`. */
export function effectiveRuntimeYaml(runtime: EffectiveRuntime, show: ShowPath): string {
  const doc = new Document(redactedValues(runtime.values));
  for (const [keyPath, source] of Object.entries(runtime.sources)) {
    const node = doc.getIn(keyPath.split('.'), true);
    const note = ` ${describeSource(source, show)}`;
    if (isScalar(node)) node.comment = note;
    else if (isCollection(node)) node.commentBefore = note;
  }
  const applied = runtime.files.length
    ? runtime.files.map((f) => `#   ${show(f.path)}${f.ignored ? ' (ignored: has errors)' : ''}`).join('\n')
    : '#   (none: defaults and settings only)';
  doc.commentBefore = ` Effective runtime of ${show(runtime.dagFile)}\n Runtime files applied, least specific first:\n${applied.replace(/^#/gm, '')}`;
  return doc.toString({ lineWidth: 0 }).trimEnd();
}
