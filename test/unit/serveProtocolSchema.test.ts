/**
 * One definition of the warm server's protocol: media/serve-protocol.schema.json. Messages with every field the
 * TypeScript types have must be valid, every field of the schema must be one the types have, and what WarmServer
 * really sends must be a valid request. (The harness's real messages are checked against the schema in
 * test/harness/test_protocol_schemas.py.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import type { ParseResult } from '../../src/core/harness/parseResult';
import type { ServeFailed, ServeParsed, ServeReady, ServeRequest } from '../../src/core/harness/serveProtocol';
import { type ServeChannel, WarmServer } from '../../src/core/engine/warm';

const media = (name: string) => JSON.parse(readFileSync(path.join(__dirname, '../../media', name), 'utf8'));
const schema = media('serve-protocol.schema.json');
const ajv = new Ajv({ allErrors: true, strict: false }).addSchema(media('parse-result.schema.json')).addSchema(schema);
const validatorOf = (definition?: string) => ajv.getSchema(`${schema.$id}${definition ? `#/definitions/${definition}` : ''}`)!;

function valid(definition: string | undefined, message: unknown): void {
  const validate = validatorOf(definition);
  assert.ok(validate(message), `${definition ?? 'message'}: ${JSON.stringify(validate.errors, null, 2)}`);
}

const result: ParseResult = {
  format: 'airflow-runtime/parse-result@1', file: '/d/x.py', airflowVersion: '3.3.2', pythonVersion: '3.11.2', durationMs: 5,
  dags: [], importErrors: [], warnings: [],
};
// Required<> makes the compiler insist on every field the types declare.
const request: Required<ServeRequest> = { id: 1, file: '/d/x.py', dagsFolder: '/d', timeout: 30, out: '/tmp/r.json' };
const ready: Required<ServeReady> = { ready: true, airflowVersion: '3.3.2', pid: 42, concurrency: 2, warmup: null, preImport: true };
const writtenOut = { id: 1, ok: true, durationMs: 640, timedOut: false, dags: 1, importErrors: 0, out: '/tmp/r.json' } satisfies ServeParsed;
const inline: ServeParsed = { id: 'after-pause', ok: true, durationMs: 640, timedOut: true, dags: 0, importErrors: 1, result };
const everyParsedField: Required<ServeParsed> = { ...writtenOut, result };
const failed: Required<ServeFailed> = { id: null, ok: false, error: 'JSONDecodeError: Expecting value', code: 'harness-failed' };

test('messages with every typed field are valid against the schema (no field of the types is unknown to it)', () => {
  valid('request', request);
  valid('ready', ready);
  for (const reply of [writtenOut, inline, failed]) valid('reply', reply);
  for (const message of [request, ready, writtenOut, inline, failed]) valid(undefined, message);
});

test('every field of the schema is a field of the types', () => {
  const pairs: [string, object][] = [['request', request], ['ready', ready], ['parsed', everyParsedField], ['failed', failed]];
  for (const [name, typed] of pairs) assert.deepEqual(Object.keys(schema.definitions[name].properties).sort(), Object.keys(typed).sort(), name);
});

test('a reply with both or neither of out and result, an unknown field or no id is refused', () => {
  const withoutOut: Partial<ServeParsed> = { ...writtenOut };
  delete withoutOut.out;
  const withoutId: Partial<ServeFailed> = { ...failed };
  delete withoutId.id;
  for (const reply of [everyParsedField, withoutOut, { ...failed, surprise: 1 }, withoutId]) assert.equal(validatorOf('reply')(reply), false, JSON.stringify(reply));
  assert.equal(validatorOf('request')({ id: 1, dagsFolder: '/d' }), false);
  assert.equal(validatorOf('ready')({ ...ready, concurrency: 0 }), false);
});

test('what WarmServer sends is a valid request, with and without out', async () => {
  const sent: string[] = [];
  let listener: (line: string) => void = () => undefined;
  const channel: ServeChannel = {
    send: (line) => {
      sent.push(line);
      const { id } = JSON.parse(line) as ServeRequest;
      const reply: ServeParsed = id === 1 ? { ...writtenOut, id } : { ...inline, id };
      queueMicrotask(() => listener(JSON.stringify(reply)));
    },
    onLine: (l) => { listener = l; },
    ended: new Promise(() => undefined), tail: () => '', stop: async () => undefined,
  };
  const server = new WarmServer(channel, 60_000, () => undefined);
  listener(JSON.stringify(ready));
  assert.equal(await server.parse({ file: '/d/x.py', dagsFolder: '/d', out: '/tmp/r.json', timeoutSeconds: 30 }, 60_000), undefined);
  assert.deepEqual(await server.parse({ file: '/d/y.py', dagsFolder: '/d', timeoutSeconds: 30 }, 60_000), result);
  assert.equal(sent.length, 2);
  for (const line of sent) valid('request', JSON.parse(line));
  await server.stop();
});
