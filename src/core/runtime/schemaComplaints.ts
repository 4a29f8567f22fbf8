/**
 * What the runtime-file schema refuses, as messages for a person: Ajv's errors turned into one complaint per value,
 * each with the place to point at, the value to leave out and what could stand in its place.
 */
import type { ErrorObject } from 'ajv';
import { closest, distance } from 'fastest-levenshtein';
import type { ProblemCode } from '../problems';
import { schemaAt, validateAgainstSchema } from './schema';
import { type KeyPath, keyPathString } from './values';

export interface SchemaComplaint {
  code: ProblemCode;
  message: string;
  /** Where to point. */
  at: KeyPath;
  part: 'key' | 'value';
  /** What to leave out of the values. */
  drop: KeyPath;
  /** What could stand in its place, best first. */
  replacements?: string[];
}

/** Schema errors as messages for people, each with the place to point at and the value to leave out. */
export function schemaComplaints(values: unknown): SchemaComplaint[] {
  const seen = new Set<string>();
  const out: SchemaComplaint[] = [];
  for (const error of validateAgainstSchema(values)) {
    const complaint = describeSchemaError(error, values);
    if (!complaint) continue;
    // One complaint per value: a list where a string belongs need not also be told it is not in the enum.
    const id = keyPathString(complaint.at);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(complaint);
  }
  return out;
}

/** The maps whose keys are Airflow's names, and what Airflow calls those names. */
const AIRFLOW_NAMED: Record<string, string> = { variables: 'variable keys', connections: 'connection ids' };

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false', null: 'empty',
};

/** One Ajv error, about the value at `at` (named `name` in messages). */
interface SchemaError {
  error: ErrorObject;
  at: KeyPath;
  name: string;
  params: Record<string, unknown>;
}

function describeSchemaError(error: ErrorObject, data: unknown): SchemaComplaint | undefined {
  const at = pointerToKeyPath(error.instancePath, data);
  const name = `\`${keyPathString(at) || 'the file'}\``;
  const params = error.params as Record<string, unknown>;
  const about: SchemaError = { error, at, name, params };
  switch (error.keyword) {
    case 'additionalProperties':
      return unknownKey(about);
    case 'type':
      return wrongType(about);
    case 'enum':
      return notInEnum(about);
    case 'required':
      return { code: 'missing-key', message: `${name} needs the key "${String(params.missingProperty)}"`, at, part: 'key', drop: at };
    case 'format':
      return params.format === 'duration'
        ? { code: 'bad-duration', message: `${name}: "${String(error.data)}" is not a duration; write seconds or a number with s, m or h (30s, 5m, 1h)`, at, part: 'value', drop: at }
        : { code: 'bad-size', message: `${name}: "${String(error.data)}" is not a size; write bytes or a number with k, m or g (512m, 2g)`, at, part: 'value', drop: at };
    case 'exclusiveMinimum':
      return { code: 'bad-value', message: `${name} must be greater than ${String(params.limit)}`, at, part: 'value', drop: at };
    case 'minLength':
      return { code: 'bad-value', message: `${name} must not be empty`, at, part: 'value', drop: at };
    case 'propertyNames':
      return undefined; // reported by the inner error, which names the key
    case 'maxLength':
      return tooLong(about);
    case 'pattern':
      return patternMismatch(about);
    default:
      return { code: 'bad-value', message: `${name} ${error.message ?? 'is not valid'}`, at, part: 'value', drop: at };
  }
}

function unknownKey({ at, name, params }: SchemaError): SchemaComplaint {
  const key = String(params.additionalProperty);
  const allowed = Object.keys(schemaAt(at)?.properties ?? {});
  const where = at.length ? ` in ${name}` : '';
  const hint = suggestion(key, allowed);
  const message = `unknown key "${key}"${where}` + (hint ? `; did you mean "${hint}"?` : `; expected one of: ${allowed.join(', ')}`);
  return { code: 'unknown-key', message, at: [...at, key], part: 'key', drop: [...at, key], replacements: hint ? [hint] : undefined };
}

function wrongType({ error, at, name, params }: SchemaError): SchemaComplaint {
  const names = String(params.type).split(',').map((t) => TYPE_NAMES[t] ?? t);
  const expected = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
  // a connection's fields may be secrets: say what kind of value it is, never the value
  const found = at[0] === 'connections' ? describeKind(error.data) : describeValue(error.data);
  return { code: 'wrong-type', message: `${name} must be ${expected}, not ${found}`, at, part: 'value', drop: at };
}

function notInEnum({ error, at, name, params }: SchemaError): SchemaComplaint {
  const allowed = (params.allowedValues as unknown[]).map(String);
  const hint = suggestion(String(error.data), allowed);
  const message = `${name} must be one of ${allowed.join(', ')}, not "${String(error.data)}"` + (hint ? `; did you mean "${hint}"?` : '');
  return { code: 'bad-value', message, at, part: 'value', drop: at, replacements: hint ? [hint, ...allowed.filter((a) => a !== hint)] : allowed };
}

/** A value too long, or a key (`propertyName`) too long for the name Airflow gives it. */
function tooLong({ error, at, name, params }: SchemaError): SchemaComplaint {
  if (error.propertyName !== undefined) {
    const key = [...at, error.propertyName];
    return { code: 'bad-value', message: `"${error.propertyName.slice(0, 40)}…" is too long a name in ${name}: Airflow takes at most ${String(params.limit)} characters`, at: key, part: 'key', drop: key };
  }
  return { code: 'bad-value', message: `${name} is ${String(error.data).length} characters long: at most ${String(params.limit)}`, at, part: 'value', drop: at };
}

/** A key (`propertyName`) or a value that does not match its pattern, said as the rule the pattern stands for. */
function patternMismatch({ error, at, name, params }: SchemaError): SchemaComplaint {
  if (error.propertyName !== undefined) {
    const key = [...at, error.propertyName];
    const rule = AIRFLOW_NAMED[String(at[0])] !== undefined && at.length === 1
      ? `${AIRFLOW_NAMED[String(at[0])]} are letters, digits, _, - and . (Airflow's rule)`
      : 'use letters, digits and _, not starting with a digit';
    return { code: 'bad-value', message: `"${error.propertyName}" is not a valid name in ${name}: ${rule}`, at: key, part: 'key', drop: key };
  }
  if (params.pattern === '^/') {
    return { code: 'bad-value', message: `${name} must be an absolute path inside the runtime (starting with /), not "${String(error.data)}"`, at, part: 'value', drop: at };
  }
  if (at[0] === 'connections') {
    // never the value: a connection URI holds its password
    return { code: 'bad-value', message: `${name} must be a connection URI (conn-type://login:password@host:port/schema) or a mapping with conn_type`, at, part: 'value', drop: at };
  }
  if (at[0] === 'deploy' && at[1] === 'queue') {
    return { code: 'bad-value', message: `${name} must be a queue name (letters, digits, _, -, . and :), not "${String(error.data).slice(0, 80)}"`, at, part: 'value', drop: at };
  }
  return { code: 'bad-value', message: `${name} must match ${String(params.pattern)}`, at, part: 'value', drop: at };
}

/** JSON pointer → key path, with list indexes as numbers. */
function pointerToKeyPath(pointer: string, data: unknown): (string | number)[] {
  if (!pointer) return [];
  const out: (string | number)[] = [];
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key = Array.isArray(current) ? Number(segment) : segment;
    out.push(key);
    current = (current as Record<string | number, unknown> | undefined)?.[key];
  }
  return out;
}

function suggestion(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const exactIgnoringCase = candidates.find((c) => c.toLowerCase() === word.toLowerCase());
  if (exactIgnoringCase) return exactIgnoringCase;
  const best = closest(word, candidates as string[]);
  return distance(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string "${value}"`;
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

function describeKind(value: unknown): string {
  if (value === null || value === undefined || Array.isArray(value) || typeof value === 'object') return describeValue(value);
  return TYPE_NAMES[typeof value] ?? 'a value';
}
