import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { EffectiveRuntime } from './resolve';
import { DEFAULT_IMAGE } from './declaredAirflow';

/**
 * A commented runtime file that keeps today's behaviour: it names the image the DAG files already get,
 * and shows the other fields commented out.
 */
export function runtimeFileTemplate(scope: { dagFile?: string; folder?: string }, effective?: EffectiveRuntime): string {
  const image = effective?.values.image ?? DEFAULT_IMAGE;
  const applies = scope.dagFile
    ? `the DAG file ${path.basename(scope.dagFile)} only; it overrides the folders' airflow-runtime.yaml`
    : 'every DAG file in this folder and below; a <dag>.airflow-runtime.yaml beside a DAG file overrides it';
  return [
    `# Airflow runtime for ${applies}.`,
    '# DAG files are parsed and their tasks run inside this runtime. Hover a key for its documentation;',
    '# Ctrl+Space lists the fields and their values.',
    '',
    '# The Docker image the DAG files run in: Airflow, and the base of what `requirements` adds.',
    `image: ${image}`,
    '',
    ...additionsLines(scope.folder),
    '# When to pull the image: always | missing | never',
    '# pull: missing',
    '',
    '# Environment variables.',
    '# env:',
    '#   TARGET_BUCKET: s3://example-bucket',
    '',
    '# Airflow Variables and Connections (AIRFLOW_VAR_*, AIRFLOW_CONN_*); passwords are never printed.',
    '# variables:',
    '#   environment: dev',
    '# connections:',
    '#   warehouse: postgres://etl:change-me@db.example.com:5432/warehouse',
    '',
    '# Airflow configuration, as [section] key = value; becomes AIRFLOW__SECTION__KEY.',
    '# airflowConfig:',
    '#   core:',
    '#     default_timezone: utc',
    '',
    '# How long a parse or a task run may take before it is stopped.',
    '# timeouts:',
    '#   parse: 60s',
    '#   run: 1h',
    '',
    '# Without Docker, the local runtime emulator builds a virtualenv from these requirements.',
    '# local:',
    '#   requirements: requirements.txt',
    '',
    '# In production (airflow-runtime export and the policy package): the Celery queue of these tasks.',
    '# deploy:',
    '#   queue: team_a',
    '',
  ].join('\n');
}

/**
 * What the DAGs need on top of the image. In an Astro project's root, the files Astro itself installs
 * (`requirements.txt`, `packages.txt`) are named; elsewhere, an example to uncomment.
 */
function additionsLines(folder: string | undefined): string[] {
  const astroRoot = folder !== undefined && existsSync(path.join(folder, '.astro'));
  const named = astroRoot ? ['requirements.txt', 'packages.txt'].filter((name) => existsSync(path.join(folder, name))) : [];
  if (named.length === 0) {
    return [
      '# Python packages the DAGs import, installed on top of the image (built once, reused until they change):',
      '# a requirements file, or a list.',
      '# requirements: [pandas==2.2.3]',
      '',
    ];
  }
  return [
    '# What Astro installs into this project\'s image: built once on top of `image`, reused until they change.',
    ...named.map((name) => `${name === 'requirements.txt' ? 'requirements' : 'packages'}: ${name}`),
    '',
  ];
}
