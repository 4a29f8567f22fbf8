/**
 * One definition of the parse result: media/parse-result.schema.json. A result with every field the
 * TypeScript types have must be valid, and every field the schema has must be one the types have, so
 * neither can drift from the other. (The harness's real output is checked against the schema in
 * test/engine/projects.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import type { DagInfo, ImportErrorInfo, ParseResult, ParseWarningInfo, RelatedLocation, TaskInfo } from '../../src/core/harness/parseResult';

const schema = JSON.parse(readFileSync(path.join(__dirname, '../../media/parse-result.schema.json'), 'utf8'));

// Required<> makes the compiler insist on every field the types declare.
const task: Required<TaskInfo> = { taskId: 't', operator: 'BashOperator', operatorName: null, file: '/d/x.py', line: 3, definitionLine: 2, definitionFile: '/d/helpers.py', upstream: [], downstream: [], taskGroup: null, mapped: false, mapCount: null };
const dag: Required<DagInfo> = { dagId: 'd', file: '/d/x.py', line: 1, schedule: '@daily', tags: ['a'], owner: 'me', tasks: [task], serialized: { dag: {} } };
const related: Required<RelatedLocation> = { file: '/d/x.py', line: 1, message: 'DAG d is created here' };
const importError: Required<ImportErrorInfo> = { file: '/d/x.py', line: 4, column: 1, message: 'Boom', traceback: 'Traceback', hint: 'add pythonPath', related: [related] };
const warning: Required<ParseWarningInfo> = { file: '/d/x.py', line: 2, column: 5, category: 'DeprecationWarning', message: 'old', internal: true, origin: '/airflow/x.py:9' };
const result: Required<ParseResult> = {
  format: 'airflow-runtime/parse-result@1', file: '/d/x.py', dagsFolder: '/d', airflowVersion: '3.3.2', pythonVersion: '3.11.2', durationMs: 5,
  dags: [dag], importErrors: [importError], warnings: [warning], timedOut: false, output: { bytes: 0, truncated: false, tail: '' },
  engine: { kind: 'docker', detail: 'img', totalMs: 9 },
};

test('a result with every typed field is valid against the schema (no field of the types is unknown to it)', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  assert.ok(validate(result), JSON.stringify(validate.errors, null, 2));
});

test('every field of the schema is a field of the types', () => {
  const pairs: [string, Record<string, unknown>, object][] = [
    ['result', schema.properties, result], ['dag', schema.definitions.dag.properties, dag], ['task', schema.definitions.task.properties, task],
    ['importError', schema.definitions.importError.properties, importError], ['warning', schema.definitions.warning.properties, warning],
    ['related', schema.definitions.importError.properties.related.items.properties, related],
  ];
  for (const [name, properties, typed] of pairs) assert.deepEqual(Object.keys(properties).sort(), Object.keys(typed).sort(), name);
});

test('a result that lacks a required field or has an unknown one is refused', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const withoutWarnings: Partial<ParseResult> = { ...result };
  delete withoutWarnings.warnings;
  assert.equal(validate(withoutWarnings), false);
  assert.equal(validate({ ...result, surprise: 1 }), false);
});
