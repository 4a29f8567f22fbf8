import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { type Document, isMap, isScalar, isSeq, Lexer, LineCounter, parseDocument, type Node as YamlNode, type YAMLError, type YAMLWarning } from 'yaml';
import { FILE_START, type Position, type Problem, type ProblemCode, type Severity } from '../problems';
import { checkAirflowNames } from './airflowEnv';
import { checkPaths, type FileProbe, type HostAccess, isInside, nodeFileProbe } from './checks';
import { runtimeFileScope, type RuntimeFileScope } from './names';
import { schemaComplaints } from './schemaComplaints';
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

/** Reads one runtime file's text. Never throws: every complaint is a Problem with a position. */
export function readRuntimeFile(filePath: string, text: string, context: ReadContext): RuntimeFile {
  const probe = context.probe ?? nodeFileProbe;
  const refusal = whyNotRead(filePath, text, context.workspaceRoot, probe);
  if (refusal) return unreadableRuntimeFile(filePath, refusal);
  const reading = new Reading(filePath, text);
  const values = readMapping(reading);
  if (!values) return reading.result({}, true);
  leaveOutBinaryData(values, reading);
  leaveOutSchemaErrors(values, reading);
  checkWhatItNames(values, reading, context, probe);
  reading.problems.sort((a, b) => a.start.line - b.start.line || a.start.column - b.start.column);
  return reading.result(values as RuntimeValues, false);
}

/** One runtime file being read: what it says is wrong so far, where each key stands, and offsets as positions. */
class Reading {
  readonly scope: RuntimeFileScope;
  readonly problems: Problem[] = [];
  /** By `keyPathString`; '' is the whole document. */
  readonly locations = new Map<string, Location>();
  readonly lineCounter = new LineCounter();

  constructor(readonly filePath: string, readonly text: string) {
    this.scope = runtimeFileScope(filePath) ?? 'folder';
  }

  at(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  rangeOf(node: YamlNode | null | undefined): Range | undefined {
    return node?.range ? { start: this.at(node.range[0]), end: this.at(node.range[1]) } : undefined;
  }

  wholeFile(): Range {
    return { start: FILE_START, end: this.at(this.text.length) };
  }

  /** Where to point for a key path: its key or value, else its nearest parent's key, else the whole file. */
  locate(keyPath: KeyPath, part: 'key' | 'value'): Range {
    for (let n = keyPath.length; n >= 0; n--) {
      const location = this.locations.get(keyPathString(keyPath.slice(0, n)));
      if (location) return (part === 'value' && n === keyPath.length ? location.value : location.key) ?? location.value;
    }
    return this.wholeFile();
  }

  add(severity: Severity, code: ProblemCode, message: string, range: Range, replacements?: string[]): void {
    this.problems.push({ file: this.filePath, severity, code, message, start: range.start, end: range.end, ...(replacements?.length ? { replacements } : {}) });
  }

  result(values: RuntimeValues, ignored: boolean): RuntimeFile {
    return { path: this.filePath, scope: this.scope, values, locations: this.locations, problems: this.problems, ignored };
  }
}

/**
 * Why a runtime file is not read at all (for `unreadableRuntimeFile`): a symlink to a file outside the project,
 * or more text than a runtime file has. Undefined when it is read.
 */
function whyNotRead(filePath: string, text: string, workspaceRoot: string, probe: FileProbe): Error | undefined {
  if (linksOutside(filePath, workspaceRoot, probe)) return Object.assign(new Error('outside the project'), { code: 'EOUTSIDE' });
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_RUNTIME_FILE_BYTES) return Object.assign(new Error('too big'), { code: 'EFBIG', size });
  return undefined;
}

/**
 * A runtime file in the workspace that is really elsewhere (a symlink, or a folder symlink on its way): someone
 * else's file would decide what runs, and its lines would be echoed in our messages.
 */
function linksOutside(filePath: string, workspaceRoot: string, probe: FileProbe): boolean {
  if (!probe.realpath || !isInside(path.resolve(workspaceRoot), path.resolve(filePath)) || !probe.kind(filePath)) return false;
  return !isInside(probe.realpath(workspaceRoot), probe.realpath(filePath));
}

/**
 * The file's YAML as a plain mapping, with the location of every key in `reading`; `{}` for an empty file.
 * Undefined when nothing of it can be used: too deep or wide, bad syntax, not a mapping (its problems say which).
 */
function readMapping(reading: Reading): Record<string, unknown> | undefined {
  if (tooDeepOrWide(reading)) return undefined;
  const doc = parseYaml(reading);
  if (!doc) return undefined;
  collectLocations(doc.contents, [], reading);
  return plainMapping(doc, reading);
}

/** A file too deep or too wide for the YAML reader, said at the place it becomes so (see shapeProblem). */
function tooDeepOrWide(reading: Reading): boolean {
  const { text, lineCounter } = reading;
  const shape = shapeProblem(text);
  if (!shape) return false;
  // the YAML reader does not run, so the line counter learns the lines up to the place itself
  lineCounter.addNewLine(0);
  for (let i = text.indexOf('\n'); i >= 0 && i < shape.offset; i = text.indexOf('\n', i + 1)) lineCounter.addNewLine(i + 1);
  const here = reading.at(shape.offset);
  reading.add('error', 'yaml-syntax', `${shape.message}; this runtime file is ignored`, { start: here, end: here });
  return true;
}

/** The YAML document, its warnings said; undefined, with each syntax error said, when it has any. */
function parseYaml(reading: Reading): Document.Parsed | undefined {
  const doc = parseDocument(reading.text, { lineCounter: reading.lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const rangeOf = ({ pos }: YAMLError | YAMLWarning): Range => ({ start: reading.at(pos[0]), end: reading.at(pos[1]) });
  for (const error of doc.errors) {
    // the YAML library turns its own stack overflow into an error at the place it gave up
    const message = /Maximum call stack/.test(error.message)
      ? 'nested too deeply to read (hundreds of levels of [ or {): a runtime file is a few levels deep'
      : firstLine(error.message);
    reading.add('error', 'yaml-syntax', message, rangeOf(error));
  }
  if (doc.errors.length > 0) {
    const last = reading.problems[reading.problems.length - 1];
    reading.add('error', 'yaml-syntax', 'this runtime file is ignored until its YAML syntax is fixed', last);
    return undefined;
  }
  for (const warning of doc.warnings) reading.add('warning', 'yaml-syntax', firstLine(warning.message), rangeOf(warning));
  return doc;
}

/** The document as plain data when it is a mapping (`{}` and a warning when empty); undefined, and why, when not. */
function plainMapping(doc: Document.Parsed, reading: Reading): Record<string, unknown> | undefined {
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    reading.add('error', 'yaml-syntax', `cannot read this YAML: ${firstLine(String((error as Error).message ?? error))}`, reading.wholeFile());
    return undefined;
  }
  if (data === null || data === undefined) {
    reading.add('warning', 'empty-file', 'empty runtime file: it changes nothing (add `image:` or another field)', { start: FILE_START, end: FILE_START });
    return {};
  }
  if (typeof data !== 'object' || Object.getPrototypeOf(data) !== Object.prototype) {
    const found = Array.isArray(data) ? 'a list' : typeof data === 'object' ? 'binary data' : `a ${typeof data}`;
    reading.add('error', 'not-a-mapping', `a runtime file must be a mapping of keys such as \`image:\`, not ${found}`, reading.locations.get('')?.value ?? reading.wholeFile());
    return undefined;
  }
  return data as Record<string, unknown>;
}

/** Values YAML tags made that JSON has no word for (`!!binary`): each said at its value and left out. */
function leaveOutBinaryData(values: Record<string, unknown>, reading: Reading): void {
  const binary = normalizeTaggedValues(values);
  for (const keyPath of binary) {
    reading.add('error', 'wrong-type', `\`${keyPathString(keyPath)}\`: binary data has no place in a runtime file`, reading.locate(keyPath, 'value'));
  }
  dropPaths(values, binary);
}

/** What the schema refuses: each said at its place and left out, then what that leaves incomplete, silently. */
function leaveOutSchemaErrors(values: Record<string, unknown>, reading: Reading): void {
  const complaints = schemaComplaints(values);
  for (const complaint of complaints) {
    reading.add('error', complaint.code, complaint.message, reading.locate(complaint.at, complaint.part), complaint.replacements);
  }
  dropPaths(values, complaints.map((c) => c.drop));
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
}

/**
 * What the values name on the host and in Airflow (checkPaths, checkAirflowNames), each finding said at its
 * place (or at its line of a file the runtime file names) and what cannot be used left out.
 */
function checkWhatItNames(values: Record<string, unknown>, reading: Reading, context: ReadContext, probe: FileProbe): void {
  const findings = [
    ...checkPaths(values as RuntimeValues, path.dirname(reading.filePath), context.workspaceRoot, probe, context.hostAccess),
    ...checkAirflowNames(values as RuntimeValues),
  ];
  for (const finding of findings) {
    if (finding.elsewhere) {
      // a line of a file the runtime file names (its requirements): said there, where it is fixed
      const { file, line } = finding.elsewhere;
      reading.problems.push({ file, severity: finding.severity, code: finding.code, message: finding.message, start: { line, column: 1 }, end: { line, column: 1 } });
    } else {
      reading.add(finding.severity, finding.code, finding.message, reading.locate(finding.at, finding.part ?? 'value'));
    }
  }
  dropPaths(values, findings.flatMap((finding) => (finding.drop ? [finding.drop] : [])));
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

/** The range of every key and value under `node` into `reading.locations`, by `keyPathString`. */
function collectLocations(node: unknown, keyPath: (string | number)[], reading: Reading): void {
  const own = reading.rangeOf(node as YamlNode);
  if (keyPath.length === 0 && own) reading.locations.set('', { value: own });
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const path = [...keyPath, key];
      const keyRange = reading.rangeOf(pair.key);
      const valueRange = reading.rangeOf(pair.value as YamlNode) ?? keyRange;
      if (valueRange) reading.locations.set(keyPathString(path), { key: keyRange, value: valueRange });
      collectLocations(pair.value, path, reading);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const path = [...keyPath, index];
      const range = reading.rangeOf(item as YamlNode);
      if (range) reading.locations.set(keyPathString(path), { value: range });
      collectLocations(item, path, reading);
    });
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').trim();
}
