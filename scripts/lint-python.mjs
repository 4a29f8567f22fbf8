// `npm run lint:python`: our own Python held to the TypeScript bar: ruff's lint and format check (ruff.toml) and
// pyright (pyrightconfig.json: the harness at Python 3.9, the oldest it supports) over the harness, the policy
// package, the bench and their tests. ruff is the pinned, hash-checked wheel that upgrade-check fetches; pyright
// comes with npm ci. `--fix` applies ruff's safe fixes and formats, for a developer before a commit.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRuff } from '../src/core/upgrade/ruff.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.includes('--fix');
const ruff = await ensureRuff();
let failed = 0;
const step = (what, command, args) => {
  const { status, error } = spawnSync(command, args, { cwd: REPO, stdio: 'inherit' });
  if (status !== 0) {
    failed++;
    console.error(`lint:python: ${what} failed${error ? ` (${error.message})` : ''}`);
  }
};
step('ruff check', ruff, ['check', '--no-cache', ...(fix ? ['--fix'] : []), '.']);
step('ruff format', ruff, ['format', '--no-cache', ...(fix ? [] : ['--check', '--diff']), '.']);
step('pyright', path.join(REPO, 'node_modules', '.bin', 'pyright'), ['-p', 'pyrightconfig.json']);
process.exit(failed ? 1 : 0);
