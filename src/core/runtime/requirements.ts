/**
 * A runtime's `requirements` (a pip requirements file or a list) and `packages` (Debian packages), read line by
 * line with their places: what the image build and the local venv install, and where a complaint about one goes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { RuntimeValues } from './values';

/** One requirement or option as pip reads it, at its line (1-based) of the file, or its index + 1 in a list. */
export interface RequirementLine {
  line: number;
  /** The requirement with comments and continuations taken out. */
  text: string;
  /** The distribution it names (`pandas`, `apache-airflow`), for a named requirement. */
  name?: string;
  /** A local path it installs from (`-e ../lib`, `./pkg`, `file:///…`), absolute against `baseDir`. */
  localPath?: string;
  /** Why pip cannot read it, said for a person. */
  problem?: string;
  /** A `-r FILE` (requirements) or `-c FILE` (constraints) line: the file it includes, absolute. */
  include?: { kind: 'requirements' | 'constraints'; file: string };
}

/** pip's options that a requirements file may hold, by every spelling; anything else after `-` pip refuses. */
const PIP_OPTIONS = new Set([
  '-i', '--index-url', '--extra-index-url', '--no-index', '-f', '--find-links', '--pre', '--trusted-host',
  '--prefer-binary', '--only-binary', '--no-binary', '--require-hashes', '--use-feature', '--config-settings',
  '-e', '--editable', '-r', '--requirement', '-c', '--constraint',
]);

/** PEP 508's name, extras, version specifiers and marker, as pip's `packaging` reads them (pip options after). */
const NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const VERSION_CLAUSE = '(?:~=|===|==|!=|<=|>=|<|>)\\s*[A-Za-z0-9.*+!_-]+';
const NAMED = new RegExp(
  `^(${NAME})\\s*(?:\\[\\s*(?:${NAME}(?:\\s*,\\s*${NAME})*)?\\s*\\])?\\s*` +
  `(?:@\\s*\\S+|\\(?\\s*(?:${VERSION_CLAUSE}(?:\\s*,\\s*${VERSION_CLAUSE})*)?\\s*\\)?)\\s*(?:;.*)?$`,
);

/** What a requirement line is when it is not a name: a URL, an archive or a path. */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Lines of a requirements file's text, or of a list (each item its own line), each read as pip reads it. */
export function requirementLines(source: string | readonly string[], baseDir: string): RequirementLine[] {
  const logical: { line: number; text: string }[] = [];
  if (typeof source === 'string') {
    const physical = source.split(/\r?\n/);
    for (let i = 0; i < physical.length; i++) {
      const start = i;
      let text = physical[i];
      // a trailing backslash joins the next line, as pip does
      while (text.endsWith('\\') && i + 1 < physical.length) text = text.slice(0, -1) + physical[++i];
      logical.push({ line: start + 1, text });
    }
  } else {
    source.forEach((text, index) => logical.push({ line: index + 1, text }));
  }
  const out: RequirementLine[] = [];
  for (const { line, text: raw } of logical) {
    // pip's comments: `#` at the start or after whitespace (a URL's fragment stays)
    const text = raw.replace(/(^|\s)#.*$/, '').trim();
    if (text) out.push({ line, text, ...readOne(text, baseDir) });
  }
  return out;
}

function readOne(text: string, baseDir: string): Omit<RequirementLine, 'line' | 'text'> {
  if (text.startsWith('-')) {
    const [option, ...rest] = text.split(/[\s=]+/);
    const value = rest.join(' ').trim();
    if (!PIP_OPTIONS.has(option)) return { problem: `pip does not read the option "${option}" in a requirements file` };
    if (option === '-r' || option === '--requirement' || option === '-c' || option === '--constraint') return includeOf(option, value, baseDir);
    if (option === '-e' || option === '--editable') {
      if (!value) return { problem: `"${option}" needs a path or URL` };
      return URL_LIKE.test(value) && !value.startsWith('file:') ? {} : { localPath: localPathOf(value, baseDir) };
    }
    if ((option === '-f' || option === '--find-links') && value && !URL_LIKE.test(value)) return { localPath: localPathOf(value, baseDir) };
    return {};
  }
  if (text.startsWith('file:')) return { localPath: localPathOf(text, baseDir) };
  if (URL_LIKE.test(text)) return {};
  // pip's own test: a path when it has a separator or starts with a dot, or is an archive's name
  const withoutOptions = text.split(/\s+--/)[0].trim();
  const head = withoutOptions.split(/\s*[;@[]/)[0];
  if (/^\.|[/\\]/.test(head) || /\.(whl|zip|tar\.gz|tgz)$/i.test(head)) {
    return { localPath: localPathOf(withoutOptions, baseDir) };
  }
  const named = NAMED.exec(withoutOptions);
  if (!named) return { problem: `pip cannot read "${text.slice(0, 80)}" as a requirement (a name, then versions such as ==1.2 or >=1.0,<2)` };
  return { name: named[1] };
}

/** An included file, followed as pip follows it; its path is a local path (outside the workspace: host access). */
function includeOf(option: string, value: string, baseDir: string): Omit<RequirementLine, 'line' | 'text'> {
  if (!value) return { problem: `"${option}" needs a file` };
  if (URL_LIKE.test(value)) return { problem: `"${option}" includes a URL, which is not followed here: include a file of the workspace` };
  const file = path.resolve(baseDir, value);
  if (!existsSync(file)) return { problem: `"${option}" includes ${value}, which does not exist (${file})` };
  return { include: { kind: option === '-c' || option === '--constraint' ? 'constraints' : 'requirements', file }, localPath: file };
}

/**
 * The lines pip installs from `lines` with their includes followed: an included file's lines stand at the line of
 * the `-r`/`-c` that includes them (where a complaint about them goes); a `-c` file's lines are constraints. A file
 * included twice (or in a cycle) is read once.
 */
export function withIncludes(lines: readonly RequirementLine[], read: (file: string) => string, seen = new Set<string>()): { requirements: RequirementLine[]; constraints: RequirementLine[] } {
  const requirements: RequirementLine[] = [];
  const constraints: RequirementLine[] = [];
  for (const line of lines) {
    if (!line.include) {
      requirements.push(line);
      continue;
    }
    if (seen.has(line.include.file)) continue;
    seen.add(line.include.file);
    const inner = withIncludes(requirementLines(read(line.include.file), path.dirname(line.include.file)), read, seen);
    const here = (items: RequirementLine[]) => items.map((item) => ({ ...item, line: line.line }));
    (line.include.kind === 'constraints' ? constraints : requirements).push(...here(inner.requirements));
    constraints.push(...here(inner.constraints));
  }
  return { requirements, constraints };
}

/** The files a requirements file includes (`-r`, `-c`), at any depth, that can be read now. */
function includedFiles(file: string): string[] {
  const found: string[] = [];
  const visit = (current: string) => {
    let text: string;
    try {
      text = readFileSync(current, 'utf8');
    } catch {
      return;
    }
    for (const line of requirementLines(text, path.dirname(current))) {
      if (!line.include || found.includes(line.include.file) || line.include.file === file) continue;
      found.push(line.include.file);
      visit(line.include.file);
    }
  };
  visit(file);
  return found;
}

function localPathOf(value: string, baseDir: string): string {
  const bare = value.replace(/^file:(\/\/)?/, '').split(/[#[]/)[0].split(/\s*;/)[0];
  return path.resolve(baseDir, bare);
}

/** pip's normal form of a distribution name: `Apache_Airflow` and `apache-airflow` are the same. */
export function normalName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** One Debian package per line of a packages file (Astro's `packages.txt`), or a list; `#` starts a comment. */
export function packageLines(source: string | readonly string[]): { line: number; name: string; problem?: string }[] {
  const items = typeof source === 'string' ? source.split(/\r?\n/) : [...source];
  const out: { line: number; name: string; problem?: string }[] = [];
  items.forEach((raw, index) => {
    for (const name of raw.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean)) {
      const problem = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/.test(name) ? undefined : `"${name.slice(0, 80)}" is not a Debian package name (lower-case letters, digits, + - .; =version to pin)`;
      out.push({ line: index + 1, name, ...(problem ? { problem } : {}) });
    }
  });
  return out;
}

/** The files a runtime's values name besides runtime files (its requirements and packages files), absolute. */
export function dependenciesOf(values: RuntimeValues, baseDir: string): string[] {
  const files = [values.requirements, values.packages].filter((v): v is string => typeof v === 'string').map((v) => path.resolve(baseDir, v));
  // what a requirements file includes is part of the runtime too: an edit of it makes another image
  return typeof values.requirements === 'string' ? [...files, ...includedFiles(files[0])] : files;
}

/** What those files hold now, as one hash: a runtime whose requirements file changed is another runtime. */
export function dependencyDigest(values: RuntimeValues, baseDir = '/'): string {
  const hash = createHash('sha256');
  for (const file of dependenciesOf(values, baseDir)) {
    try {
      hash.update(file).update('\0').update(readFileSync(file)).update('\0');
    } catch {
      hash.update(file).update('\0missing\0');
    }
  }
  return hash.digest('hex');
}
