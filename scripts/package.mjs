// Builds the bundles and packages the extension with vsce; prints what the .vsix holds and its size.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

const { name, version } = JSON.parse(readFileSync('package.json', 'utf8'));
const vsix = `${name}-${version}.vsix`;
const vsce = (...args) => execFileSync('npx', ['--no-install', 'vsce', ...args, '--no-dependencies'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

// `npm test` built the bundles once for all its stages and says so
if (process.env.AIRFLOW_RUNTIME_BUNDLES_FRESH !== '1') execFileSync('node', ['scripts/build.mjs'], { stdio: 'inherit' });
vsce('package', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsix);   // README links point into the .vsix (media/)
const files = vsce('ls').trim().split('\n');
console.log(`${vsix}: ${(statSync(vsix).size / 1024).toFixed(0)} KiB, ${files.length} files`);
for (const file of files) console.log(`  ${file}`);
