import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ErrorObject } from 'ajv';
import { closest, distance } from 'fastest-levenshtein';
import { isMap, isScalar, isSeq, Lexer, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { FILE_START, type Position, type Problem, type ProblemCode, type Severity } from '../problems';
import { checkAirflowNames } from './airflowEnv';
import { checkPaths, type FileProbe, type HostAccess, isInside, nodeFileProbe } from './checks';
import { runtimeFileScope, type RuntimeFileScope } from './names';
import { schemaAt, validateAgainstSchema } from './schema';
import { dropPaths, type KeyPath, keyPathString, type RuntimeValues } from './values';

export interface Range {
  start: Position;
  end: Position;
}

/** Where a key and its value stand in the file. */
export interface Location {
  key?: Range;
  value: Range;
}

export interface RuntimeFile {
  path: string;
  scope: RuntimeFileScope;
  /** The valid values only, paths as written. Invalid values are dropped and reported in `problems`. */
  values: RuntimeValues;
  /** Locations by `keyPathString` (`env.FOO`, `mounts[0]`); '' is the whole document. */
  locations: ReadonlyMap<string, Location>;
  problems: Problem[];
  /** True when nothing of the file could be used (YAML syntax error, not a mapping). */
  ignored: boolean;
}

export interface ReadContext {
  /** What this person lets runtime files open on the host (never the workspace's to say). */
  hostAccess?: HostAccess;
  /** Mount sources outside this folder get a warning. */
  workspaceRoot: string;
  probe?: FileProbe;
}

/**
 * Runtime files are a few lines; past this, reading one costs seconds of CPU (every key checked against the
 * schema) for a file that is not a runtime file anyone wrote.
 */
export const MAX_RUNTIME_FILE_BYTES = 256 * 1024;

/**
 * A runtime file's text from disk, or undefined when there is none. Throws (for `unreadableRuntimeFile`)
 * when there is something by that name that cannot be a runtime file: a folder, a device, an unreadable or
 * oversized file. Its size is checked before it is read.
 */
export function readRuntimeText(filePath: string): string | undefined {
  let stats;
  try {
    stats = statSync(filePath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
  if (stats.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
  if (!stats.isFile()) throw Object.assign(new Error('is not a regular file'), { code: 'ENOTFILE' });
  if (stats.size > MAX_RUNTIME_FILE_BYTES) throw Object.assign(new Error('too big'), { code: 'EFBIG', size: stats.size });
  return readFileSync(filePath, 'utf8');
}

/** A runtime file that could not be read, as a file with one problem that says why and what to do. */
export function unreadableRuntimeFile(filePath: string, error: unknown): RuntimeFile {
  const { code, size } = error as NodeJS.ErrnoException & { size?: number };
  const why: Record<string, string> = {
    EISDIR: 'is a folder, not a file: rename or remove it (this name is read as a runtime file)',
    ENOTFILE: 'is not a regular file (a device, socket or pipe): replace it with a YAML file, or remove it',
    EACCES: 'cannot be read (permission denied): make it readable (chmod a+r) or remove it',
    EPERM: 'cannot be read (operation not permitted): make it readable or remove it',
    EFBIG: `is ${megabytesOf(size ?? 0)}: runtime files are at most ${megabytesOf(MAX_RUNTIME_FILE_BYTES)} (a few lines of YAML); is this the right file?`,
    EOUTSIDE: 'is a symlink to a file outside the project, and is not read: a runtime file decides what runs on this machine, so it lives in the project; copy it in, or link to a file inside the project',
  };
  const message = `this runtime file ${why[code ?? ''] ?? `cannot be read: ${(error as Error).message}`}`;
  return {
    path: filePath, scope: runtimeFileScope(filePath) ?? 'folder', values: {}, locations: new Map(), ignored: true,
    problems: [{ file: filePath, severity: 'error', code: 'unreadable-file', message, start: FILE_START, end: FILE_START }],
  };
}

function megabytesOf(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}

/**
 * A runtime file in the workspace that is really elsewhere (a symlink, or a folder symlink on its way): someone
 * else's file would decide what runs, and its lines would be echoed in our messages.
 */
function linksOutside(filePath: string, workspaceRoot: string, probe: FileProbe): boolean {
  if (!probe.realpath || !isInside(path.resolve(workspaceRoot), path.resolve(filePath)) || !probe.kind(filePath)) return false;
  return !isInside(probe.realpath(workspaceRoot), probe.realpath(filePath));
}

/** Reads one runtime file's text. Never throws: every complaint is a Problem with a position. */
export function readRuntimeFile(filePath: string, text: string, context: ReadContext): RuntimeFile {
  if (linksOutside(filePath, context.workspaceRoot, context.probe ?? nodeFileProbe)) {
    return unreadableRuntimeFile(filePath, Object.assign(new Error('outside the project'), { code: 'EOUTSIDE' }));
  }
  if (Buffer.byteLength(text, 'utf8') > MAX_RUNTIME_FILE_BYTES) {
    return unreadableRuntimeFile(filePath, Object.assign(new Error('too big'), { code: 'EFBIG', size: Buffer.byteLength(text, 'utf8') }));
  }
  const scope = runtimeFileScope(filePath) ?? 'folder';
  const problems: Problem[] = [];
  const locations = new Map<string, Location>();
  const lineCounter = new LineCounter();
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problem = (severity: Severity, code: ProblemCode, message: string, range: Range, replacements?: string[]): Problem =>
    ({ file: filePath, severity, code, message, start: range.start, end: range.end, ...(replacements?.length ? { replacements } : {}) });
  const result = (values: RuntimeValues, ignored: boolean): RuntimeFile =>
    ({ path: filePath, scope, values, locations, problems, ignored });

  const shape = shapeProblem(text);
  if (shape) {
    lineCounter.addNewLine(0);
    for (let i = text.indexOf('\n'); i >= 0 && i < shape.offset; i = text.indexOf('\n', i + 1)) lineCounter.addNewLine(i + 1);
    problems.push(problem('error', 'yaml-syntax', `${shape.message}; this runtime file is ignored`, { start: at(shape.offset), end: at(shape.offset) }));
    return result({}, true);
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  for (const error of doc.errors) {
    // the YAML library turns its own stack overflow into an error at the place it gave up
    const message = /Maximum call stack/.test(error.message)
      ? 'nested too deeply to read (hundreds of levels of [ or {): a runtime file is a few levels deep'
      : firstLine(error.message);
    problems.push(problem('error', 'yaml-syntax', message, { start: at(error.pos[0]), end: at(error.pos[1]) }));
  }
  if (problems.length > 0) {
    const last = problems[problems.length - 1];
    problems.push(problem('error', 'yaml-syntax', 'this runtime file is ignored until its YAML syntax is fixed', last));
    return result({}, true);
  }
  for (const warning of doc.warnings) {
    problems.push(problem('warning', 'yaml-syntax', firstLine(warning.message), { start: at(warning.pos[0]), end: at(warning.pos[1]) }));
  }

  const rangeOf = (node: YamlNode | null | undefined): Range | undefined =>
    node?.range ? { start: at(node.range[0]), end: at(node.range[1]) } : undefined;
  collectLocations(doc.contents, [], locations, rangeOf);
  const wholeFile: Range = { start: FILE_START, end: at(text.length) };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    problems.push(problem('error', 'yaml-syntax', `cannot read this YAML: ${firstLine(String((error as Error).message ?? error))}`, wholeFile));
    return result({}, true);
  }
  if (data === null || data === undefined) {
    problems.push(problem('warning', 'empty-file', 'empty runtime file: it changes nothing (add `image:` or another field)', { start: FILE_START, end: FILE_START }));
    return result({}, false);
  }
  if (typeof data !== 'object' || Object.getPrototypeOf(data) !== Object.prototype) {
    const found = Array.isArray(data) ? 'a list' : typeof data === 'object' ? 'binary data' : `a ${typeof data}`;
    problems.push(problem('error', 'not-a-mapping', `a runtime file must be a mapping of keys such as \`image:\`, not ${found}`, locations.get('')?.value ?? wholeFile));
    return result({}, true);
  }

  const values = data as Record<string, unknown>;
  // Each step leaves out only what it found: a list index found by an earlier step points at another item now.
  let dropped: KeyPath[] = [];
  const locate = (keyPath: KeyPath, part: 'key' | 'value'): Range => {
    for (let n = keyPath.length; n >= 0; n--) {
      const location = locations.get(keyPathString(keyPath.slice(0, n)));
      if (location) return (part === 'value' && n === keyPath.length ? location.value : location.key) ?? location.value;
    }
    return wholeFile;
  };
  for (const keyPath of normalizeTaggedValues(values)) {
    problems.push(problem('error', 'wrong-type', `\`${keyPathString(keyPath)}\`: binary data has no place in a runtime file`, locate(keyPath, 'value')));
    dropped.push(keyPath);
  }
  dropPaths(values, dropped);
  dropped = [];
  for (const complaint of schemaComplaints(values)) {
    problems.push(problem('error', complaint.code, complaint.message, locate(complaint.at, complaint.part), complaint.replacements));
    dropped.push(complaint.drop);
  }
  dropPaths(values, dropped);
  // Leaving out a bad value can leave its parent incomplete (`build` without its `context`). Those follow
  // from an error already reported, so they are left out silently until what remains fits the schema.
  for (let pass = 0; ; pass++) {
    const consequences = schemaComplaints(values);
    if (consequences.length === 0) break;
    if (pass === 5) {
      // Not expected to happen; still, never hand on values that do not fit the schema.
      for (const key of Object.keys(values)) delete values[key];
      break;
    }
    dropPaths(values, consequences.map((c) => c.drop));
  }

  const baseDir = path.dirname(filePath);
  dropped = [];
  const findings = [
    ...checkPaths(values as RuntimeValues, baseDir, context.workspaceRoot, context.probe ?? nodeFileProbe, context.hostAccess),
    ...checkAirflowNames(values as RuntimeValues),
  ];
  for (const finding of findings) {
    if (finding.elsewhere) {
      // a line of a file the runtime file names (its requirements): said there, where it is fixed
      const { file, line } = finding.elsewhere;
      problems.push({ file, severity: finding.severity, code: finding.code, message: finding.message, start: { line, column: 1 }, end: { line, column: 1 } });
    } else {
      problems.push(problem(finding.severity, finding.code, finding.message, locate(finding.at, finding.part ?? 'value')));
    }
    if (finding.drop) dropped.push(finding.drop);
  }
  dropPaths(values, dropped);
  problems.sort((a, b) => a.start.line - b.start.line || a.start.column - b.start.column);
  return result(values as RuntimeValues, false);
}

/** Deeper than this is no runtime file anyone wrote (a Variable's JSON inside airflowConfig is a few levels). */
export const MAX_NESTING = 64;
/** More keys and list items than this is no runtime file anyone wrote; reading each costs the YAML reader more than the last. */
export const MAX_ENTRIES = 2000;

/** Tokens the YAML lexer makes up (document start, scalar start, flow error end): they take no room in the text. */
const SYNTHETIC_TOKENS = new Set(['\u0002', '\u0018', '\u001f']);

/**
 * A file too deep or too wide to read, found in one pass of the YAML lexer (no recursion, stops at the first
 * excess) before anything recursive sees it: thousands of `[` crash a recursive reader, 20,000 keys cost it
 * seconds. Block depth is counted by indentation (and each `- `/`? ` on a line), flow depth by brackets.
 */
export function shapeProblem(text: string): { offset: number; message: string } | undefined {
  let offset = 0;
  let flow = 0;
  let entries = 0;
  let column = 0;
  let lineStart = true;
  let afterIndicator = false;
  let scalar = false;
  const indents: number[] = [];
  for (const token of new Lexer().lex(text)) {
    if (SYNTHETIC_TOKENS.has(token)) {
      scalar = token === '\u001f'; // the next token is a scalar's text, whatever it looks like
      continue;
    }
    const here = offset;
    offset += token.length;
    if (token === '\n' || token === '\r\n') {
      column = 0;
      lineStart = true;
      afterIndicator = false;
      continue;
    }
    const indicator = !scalar && ['-', '?', ':', ',', '[', '{', ']', '}'].includes(token) ? token : undefined;
    scalar = false;
    const blank = /^[ \t]+$/.test(token);
    if (!blank && !token.startsWith('#') && flow === 0 && (lineStart || afterIndicator)) {
      while (indents.length > 0 && indents[indents.length - 1] >= column) indents.pop();
      indents.push(column);
    }
    if (!blank) {
      lineStart = false;
      afterIndicator = indicator === '-' || indicator === '?';
    }
    column += token.length;
    if (indicator === '[' || indicator === '{') flow++;
    else if ((indicator === ']' || indicator === '}') && flow > 0) flow--;
    else if (indicator) entries++;
    if (indents.length + flow > MAX_NESTING) {
      return { offset: here, message: `nested more than ${MAX_NESTING} levels deep: a runtime file is a few levels deep` };
    }
    if (entries > MAX_ENTRIES) return { offset: here, message: `more than ${MAX_ENTRIES} keys and list items: a runtime file has a few dozen` };
  }
  return undefined;
}

/**
 * YAML tags can make values JSON has no word for: `!!binary` gives bytes, YAML 1.1 timestamps give Dates.
 * Dates become their ISO text; the paths of binary values are returned, to be reported and left out.
 */
function normalizeTaggedValues(node: Record<string, unknown> | unknown[], keyPath: (string | number)[] = []): KeyPath[] {
  const binary: KeyPath[] = [];
  const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  for (const [key, value] of entries) {
    if (value === null || typeof value !== 'object') continue;
    const path = [...keyPath, key];
    if (value instanceof Date) (node as Record<string | number, unknown>)[key] = value.toISOString();
    else if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) binary.push(...normalizeTaggedValues(value as Record<string, unknown>, path));
    else binary.push(path);
  }
  return binary;
}

function collectLocations(
  node: unknown,
  keyPath: (string | number)[],
  out: Map<string, Location>,
  rangeOf: (node: YamlNode | null | undefined) => Range | undefined,
): void {
  const own = rangeOf(node as YamlNode);
  if (keyPath.length === 0 && own) out.set('', { value: own });
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const path = [...keyPath, key];
      const keyRange = rangeOf(pair.key);
      const valueRange = rangeOf(pair.value as YamlNode) ?? keyRange;
      if (valueRange) out.set(keyPathString(path), { key: keyRange, value: valueRange });
      collectLocations(pair.value, path, out, rangeOf);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const path = [...keyPath, index];
      const range = rangeOf(item as YamlNode);
      if (range) out.set(keyPathString(path), { value: range });
      collectLocations(item, path, out, rangeOf);
    });
  }
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

/** The maps whose keys are Airflow's names, and what Airflow calls those names. */
const AIRFLOW_NAMED: Record<string, string> = { variables: 'variable keys', connections: 'connection ids' };

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false', null: 'empty',
};

function describeSchemaError(error: ErrorObject, data: unknown): SchemaComplaint | undefined {
  const at = pointerToKeyPath(error.instancePath, data);
  const name = `\`${keyPathString(at) || 'the file'}\``;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys(schemaAt(at)?.properties ?? {});
      const where = at.length ? ` in ${name}` : '';
      const hint = suggestion(key, allowed);
      const message = `unknown key "${key}"${where}` + (hint ? `; did you mean "${hint}"?` : `; expected one of: ${allowed.join(', ')}`);
      return { code: 'unknown-key', message, at: [...at, key], part: 'key', drop: [...at, key], replacements: hint ? [hint] : undefined };
    }
    case 'type': {
      const names = String(params.type).split(',').map((t) => TYPE_NAMES[t] ?? t);
      const expected = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
      // a connection's fields may be secrets: say what kind of value it is, never the value
      const found = at[0] === 'connections' ? describeKind(error.data) : describeValue(error.data);
      return { code: 'wrong-type', message: `${name} must be ${expected}, not ${found}`, at, part: 'value', drop: at };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const hint = suggestion(String(error.data), allowed);
      const message = `${name} must be one of ${allowed.join(', ')}, not "${String(error.data)}"` + (hint ? `; did you mean "${hint}"?` : '');
      return { code: 'bad-value', message, at, part: 'value', drop: at, replacements: hint ? [hint, ...allowed.filter((a) => a !== hint)] : allowed };
    }
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
      if (error.propertyName !== undefined) {
        const key = [...at, error.propertyName];
        return { code: 'bad-value', message: `"${error.propertyName.slice(0, 40)}…" is too long a name in ${name}: Airflow takes at most ${String(params.limit)} characters`, at: key, part: 'key', drop: key };
      }
      return { code: 'bad-value', message: `${name} is ${String(error.data).length} characters long: at most ${String(params.limit)}`, at, part: 'value', drop: at };
    case 'pattern': {
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
    default:
      return { code: 'bad-value', message: `${name} ${error.message ?? 'is not valid'}`, at, part: 'value', drop: at };
  }
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

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').trim();
}
