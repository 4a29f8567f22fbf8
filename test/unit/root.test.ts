/** The project root, found from the files: the same answer from every folder inside a project. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { findProjectRoot } from '../../src/core/workspace/root';

function tree(files: string[]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'airflow-runtime-root-'));
  for (const file of files) {
    const full = path.join(root, file);
    if (file.endsWith('/')) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, '');
    }
  }
  return root;
}

describe('the project root', () => {
  it('of a downloaded Astro-style project (no .git, no .vscode) is its folder, from the root, dags/ and a subfolder', () => {
    const root = tree(['dags/other/deep/etl.py', 'dags/a.py', 'include/helpers.py', 'plugins/']);
    for (const start of [root, path.join(root, 'dags'), path.join(root, 'dags', 'other'), path.join(root, 'dags', 'other', 'deep', 'etl.py'), path.join(root, 'include')]) {
      assert.equal(findProjectRoot(start), root, start);
    }
  });

  it('is the nearest of .git, .vscode and .astro', () => {
    const root = tree(['.git/', 'team/.astro/', 'team/dags/x.py', 'other/dags/y.py']);
    assert.equal(findProjectRoot(path.join(root, 'team', 'dags', 'x.py')), path.join(root, 'team'));
    assert.equal(findProjectRoot(path.join(root, 'other', 'dags', 'y.py')), root);
  });

  it('of a DAGs folder that is a repository of its own (git-sync, a submodule) is the project around it', () => {
    const root = tree(['.vscode/', 'dags/.git/HEAD', 'dags/etl.py', 'include/helpers.py']);
    assert.equal(findProjectRoot(path.join(root, 'dags', 'etl.py')), root);
  });

  it('is the topmost folder with an airflow-runtime.yaml when nothing else says', () => {
    const root = tree(['proj/airflow-runtime.yaml', 'proj/dags/airflow-runtime.yaml', 'proj/dags/team/x.py']);
    assert.equal(findProjectRoot(path.join(root, 'proj', 'dags', 'team', 'x.py')), path.join(root, 'proj'));
    assert.equal(findProjectRoot(path.join(root, 'proj', 'dags', 'team')), path.join(root, 'proj'));
  });

  it('is the file\'s own folder when nothing marks a project', () => {
    const root = tree(['loose/x.py']);
    assert.equal(findProjectRoot(path.join(root, 'loose', 'x.py')), path.join(root, 'loose'));
  });
});
