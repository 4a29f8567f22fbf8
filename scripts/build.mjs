// Bundles the extension (vscode external) and the CLI with esbuild, and the extension-host tests
// (test/extension, mocha external) into dist/test, which the .vsix leaves out. `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { chmodSync, readdirSync, rmSync } from 'node:fs';

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
  // The graph webview's script: a browser bundle, no Node and no remote resource (the panel's CSP allows only it).
  { ...common, platform: 'browser', format: 'iife', target: 'es2022', entryPoints: ['src/webview/graph.ts'], outfile: 'dist/webview/graph.js', external: [] },
  {
    ...common,
    minify: false,
    entryPoints: ['test/extension/index.ts', ...readdirSync('test/extension/suite').filter((name) => name.endsWith('.test.ts')).map((name) => `test/extension/suite/${name}`)],
    outbase: 'test/extension',
    outdir: 'dist/test/extension',
    // mocha stays a module of its own: suites that `import { suite } from 'mocha'` share the runner's instance.
    external: [...common.external, 'mocha'],
  },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  rmSync('dist/test', { recursive: true, force: true });   // a renamed suite must not run twice
  await Promise.all(builds.map((options) => esbuild.build(options)));
  chmodSync('dist/cli.js', 0o755);
}
