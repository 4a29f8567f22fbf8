// Bundles the extension (vscode external) and the CLI with esbuild. `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { chmodSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: true,
  // jsonc-parser's UMD main hides its requires from esbuild; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
  logLevel: 'warning',
  // ssh2's optional native modules break bundles (dockerode pulls ssh2 in).
  external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
};

const builds = [
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
  chmodSync('dist/cli.js', 0o755);
}
