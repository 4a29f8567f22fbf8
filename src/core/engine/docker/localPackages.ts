/**
 * Local packages a runtime's requirements install from (`-e ./lib`, `./pkg`, `file:…`): the build has no view of
 * the host, so each is copied into the build's own folder and installed from there. Not editable in the image: the
 * build's folder is removed by the same step, and an editable install would point at nothing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { RequirementLine } from '../../runtime/requirements';

/** What is not part of a package's source: VCS folders, caches, virtualenvs. */
const SKIPPED = new Set(['.git', '.hg', '__pycache__', '.venv', 'venv', 'node_modules', '.mypy_cache', '.pytest_cache', '.ruff_cache', '.tox']);

export interface LocalPackage {
  /** The requirement's text in the build's requirements file: the copy's path inside the build. */
  text: string;
  /** The files to copy, by their path in the build's folder; folders with `directory`. */
  entries: { name: string; content?: Buffer; directory?: boolean }[];
  /** Their paths and contents, hashed: an edit of the package makes another image. */
  digest: string;
}

/** A requirement that installs from a local path (not `-f`, which only says where to look), or undefined. */
export function localPackageOf(requirement: RequirementLine, index: number, buildDir: string): LocalPackage | undefined {
  if (!requirement.localPath || requirement.include || /^(-f|--find-links)\b/.test(requirement.text)) return undefined;
  const extras = /\[[^\]]*\]/.exec(requirement.text.replace(/^(-e|--editable)\s+/, ''))?.[0] ?? '';
  const folder = `local/${index}`;
  const hash = createHash('sha256');
  const entries: LocalPackage['entries'] = [{ name: 'local', directory: true }, { name: folder, directory: true }];
  let text = `${buildDir}/${folder}`;
  const source = requirement.localPath;
  const kind = statSync(source, { throwIfNoEntry: false });
  if (kind?.isFile()) {
    text = `${buildDir}/${folder}/${path.basename(source)}`;
    add(path.basename(source), readFileSync(source));
  } else if (kind?.isDirectory()) {
    walk(source, '');
  } else {
    hash.update('missing'); // pip in the build says so, at the line
  }
  return { text: `${text}${extras}`, entries, digest: hash.digest('hex').slice(0, 16) };

  function add(relative: string, content: Buffer) {
    hash.update(relative).update('\0').update(content).update('\0');
    entries.push({ name: `${folder}/${relative}`, content });
  }
  function walk(dir: string, relative: string) {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (SKIPPED.has(entry.name) || entry.name.endsWith('.egg-info')) continue;
      const inner = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        entries.push({ name: `${folder}/${inner}`, directory: true });
        walk(path.join(dir, entry.name), inner);
      } else if (entry.isFile()) {
        add(inner, readFileSync(path.join(dir, entry.name)));
      }
    }
  }
}
