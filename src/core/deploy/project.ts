import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { buildManifest, type Manifest } from '../export/manifest';
import { compareProblems, hasErrors, type Problem } from '../problems';
import { isInside } from '../runtime/checks';
import type { ShowPath } from '../runtime/describe';
import type { EffectiveRuntime } from '../runtime/resolve';
import type { RuntimeValues } from '../runtime/values';
import { type DagFileJudge, findDagFiles } from '../workspace/dagFiles';
import { hostDagRoot } from '../workspace/projectLayout';
import { airflow2Refusal, DeploymentError } from './deployment';

/** What `up` deploys: the manifest `export` would write for the project, and where its folders are. */
export interface DeploymentProject {
  projectRoot: string;
  dagRoot: string;
  /** Where the runtimes expect the DAGs folder (one for all). */
  dagsFolder: string;
  pluginsFolder?: string;
  manifest: Manifest;
  runtimes: Map<string, RuntimeValues>;
}

export interface ProjectOutcome {
  project?: DeploymentProject;
  /** The runtime files' problems (an error stops `up`, as it stops `export`). */
  problems: Problem[];
}

/**
 * The project's DAG files, their runtimes and parse bundles, as `export` finds them (the same manifest), with
 * `up`'s own rules: every runtime on Airflow 3 (declared or reported), one DAGs folder, one `dagsFolder`.
 * DeploymentError for what stops it.
 */
export function deploymentProjectOf(projectRoot: string, judge: DagFileJudge, resolve: (file: string) => EffectiveRuntime, show: ShowPath, generator: string): ProjectOutcome {
  const { files } = findDagFiles([projectRoot], judge);
  if (files.length === 0) throw new DeploymentError(`no DAG files under ${show(projectRoot)} (as Airflow finds them): nothing to run`, 'run `up` in an Airflow project (a dags/ folder with DAG files)');
  const resolved = files.map((file) => ({ file, runtime: resolve(file) }));
  const seen = new Map<string, Problem>();
  for (const p of resolved.flatMap((r) => r.runtime.problems)) seen.set(`${p.file}:${p.start.line}:${p.start.column}:${p.code}:${p.message}`, p);
  const problems = [...seen.values()].sort(compareProblems);
  if (hasErrors(problems)) return { problems };

  const roots = [...new Set(resolved.map(({ file, runtime }) => hostDagRoot(file, runtime.workspaceRoot)))].sort();
  if (roots.length > 1) throw new DeploymentError(`${show(projectRoot)} holds more than one DAGs folder (${roots.map(show).join(', ')})`, 'run `up` in each project on its own');
  const dagRoot = roots[0];
  if (!isInside(projectRoot, dagRoot)) throw new DeploymentError(`${show(projectRoot)} is inside the DAGs folder ${show(dagRoot)}`, `run \`up\` for the whole project (${show(path.dirname(dagRoot))})`);

  const { manifest, facts, problems: more } = buildManifest({ files: resolved, projectRoot, dagRoot, digests: new Map(), generator, show });
  if (!manifest) return { problems: [...problems, ...more] };
  const two = manifest.runtimes.filter((r) => facts.get(r.id)?.airflowMajor === 2);
  if (two.length) throw airflow2Refusal(two.map((r) => r.image).join(', '));
  const folders = [...new Set([...facts.values()].map((f) => f.dagsFolder))].sort();
  if (folders.length > 1) throw new DeploymentError(`the runtimes name different dagsFolder values (${folders.join(', ')}); one deployment mounts the DAGs folder at one place`, 'give the runtime files one `dagsFolder`');

  const runtimes = new Map<string, RuntimeValues>();
  for (const runtime of manifest.runtimes) {
    const file = manifest.files.find((f) => f.runtime === runtime.id)!;
    runtimes.set(runtime.id, resolved.find((r) => path.relative(dagRoot, r.file).split(path.sep).join('/') === file.path)!.runtime.values);
  }
  const plugins = path.join(path.dirname(dagRoot), 'plugins');
  const pluginsFolder = path.basename(dagRoot) === 'dags' && existsSync(plugins) && statSync(plugins).isDirectory() ? plugins : undefined;
  return { project: { projectRoot, dagRoot, dagsFolder: folders[0], pluginsFolder, manifest, runtimes }, problems: [...problems, ...more] };
}
