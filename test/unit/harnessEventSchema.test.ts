/**
 * One definition of the harness's events: media/harness-event.schema.json. An event of each kind the TypeScript
 * type names must be valid, the kinds must be the same on both sides, and every field of the schema must be one the
 * type has. (The harness's real events are checked against the schema in test/harness/test_protocol_schemas.py.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import { EVENT_MARKER, harnessEvent, type HarnessEvent } from '../../src/core/harness/harnessEvents';

const schema = JSON.parse(readFileSync(path.join(__dirname, '../../media/harness-event.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

// A Record over the type's kinds: the compiler insists on one event of every kind, and no other.
const events: Record<HarnessEvent['event'], HarnessEvent> = {
  started: { event: 'started' },
  error: { event: 'error', code: 'no-airflow', message: 'Airflow is not installed in this interpreter' },
  'debug-listening': { event: 'debug-listening', port: 5678 },
  'debug-ended': { event: 'debug-ended' },
  task: { event: 'task', taskId: 'extract', mapIndex: -1, state: 'success', durationMs: 12, final: true },
  rendered: { event: 'rendered', field: 'bash_command', text: 'echo 2024-03-05', last: true, renderer: 'bash', pythonType: 'str' },
  'render-failed': { event: 'render-failed', field: 'bash_command', template: 'echo {{ ds }', message: "unexpected '}'" },
  'import-error': { event: 'import-error', file: '/d/x.py', line: 2, column: 1, message: "ModuleNotFoundError: No module named 'pandas'" },
};
// Required<> makes the compiler insist on every field the type declares.
const everyField: Required<HarnessEvent> = {
  event: 'task', code: '', message: '', port: 1, taskId: '', mapIndex: 0, state: '', durationMs: 0, final: true, field: '', text: '', last: true,
  renderer: null, pythonType: '', template: '', file: '', line: 1, column: 1,
};

test('an event of every kind is valid against the schema, as the engines read it from a line', () => {
  for (const event of Object.values(events)) {
    assert.ok(validate(event), `${event.event}: ${JSON.stringify(validate.errors, null, 2)}`);
    assert.deepEqual(harnessEvent(`\n${EVENT_MARKER} ${JSON.stringify(event)}`), event);
  }
});

test('the kinds and each kind\'s fields are the same in the schema and the type', () => {
  const kinds = Object.values(schema.definitions as Record<string, { properties: Record<string, { const?: string }> }>).map((d) => d.properties.event.const);
  assert.deepEqual([...kinds].sort(), Object.keys(events).sort());
  for (const [kind, event] of Object.entries(events)) {
    assert.deepEqual(Object.keys(schema.definitions[kind].properties).sort(), Object.keys(event).sort(), kind);
  }
  const schemaFields = new Set(Object.values(schema.definitions as Record<string, { properties: object }>).flatMap((d) => Object.keys(d.properties)));
  assert.deepEqual([...schemaFields].sort(), Object.keys(everyField).sort());
});

test('an unknown kind, a missing field or an unknown one is refused', () => {
  const withoutTaskId: Partial<HarnessEvent> = { ...events.task };
  delete withoutTaskId.taskId;
  for (const event of [{ event: 'surprise' }, withoutTaskId, { ...events.started, message: 'x' }, { ...events['import-error'], line: 0 }]) {
    assert.equal(validate(event), false, JSON.stringify(event));
  }
});
