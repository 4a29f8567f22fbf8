import { readFileSync } from 'node:fs';
import type { RuntimeValues } from './values';

/** The image a runtime uses when no runtime file or setting names one. */
export const DEFAULT_IMAGE = 'apache/airflow:2.11.2';

/** The Airflow (and Python) a runtime says it has, before anything runs, and where that was read. */
export interface DeclaredAirflow {
  /** `2.11.2`; a minor (`3.0`) when only that is said (an Astro Runtime tag). */
  version: string;
  /** `3.11`, when the runtime says (an image tag's `-python3.11`). */
  python?: string;
  /** For people: `the tag of apache/airflow:2.11.2`, `apache-airflow==2.11.2 in requirements.txt`. */
  source: string;
}

/** Astro Runtime 9 to 13 are Airflow 2.7 to 2.11 (astronomer.io's version table); 3.x tags are `3.0-1`. */
const ASTRO_RUNTIME_AIRFLOW: Record<number, string> = { 9: '2.7', 10: '2.8', 11: '2.9', 12: '2.10', 13: '2.11' };

/**
 * What the runtime files say about the runtime's Airflow: an Airflow image's tag (`apache/airflow:2.11.2`,
 * `:slim-2.11.2-python3.12`, any repository named `airflow`), an Astro Runtime tag, else the `apache-airflow` pin of
 * `local.requirements`, else (no image named) the default image's. Undefined when nothing says it (a tag like
 * `latest` or a git sha): only the runtime can tell then. This is a declaration, not the truth: the runtime's own answer wins wherever it is had.
 */
export function declaredAirflowOf(values: RuntimeValues, readText: (file: string) => string | undefined = readQuietly): DeclaredAirflow | undefined {
  if (values.build) return fromRequirements(values.local?.requirements, readText);
  // an image named says it; else the requirements' pin; else the default image's
  return (values.image ? fromImage(values.image) : undefined) ?? fromRequirements(values.local?.requirements, readText) ?? (values.image ? undefined : fromImage(DEFAULT_IMAGE));
}

function fromImage(image: string | undefined): DeclaredAirflow | undefined {
  if (!image) return undefined;
  const name = image.split('@')[0];
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon <= slash) return undefined;
  const repository = name.slice(slash + 1, colon).toLowerCase();
  const tag = name.slice(colon + 1);
  if (repository === 'astro-runtime' || repository === 'runtime') {
    const modern = /^(3\.\d+)-\d+/.exec(tag);
    if (modern) return { version: modern[1], source: `the Astro Runtime tag of ${image}` };
    const major = Number(/^(\d+)\./.exec(tag)?.[1]);
    const airflow = ASTRO_RUNTIME_AIRFLOW[major];
    return airflow ? { version: airflow, source: `the Astro Runtime tag of ${image}` } : undefined;
  }
  if (!repository.includes('airflow')) return undefined;
  const match = /^(?:slim-)?v?(\d+\.\d+\.\d+)(?:-python(\d+\.\d+))?$/.exec(tag);
  if (!match) return undefined;
  return { version: match[1], ...(match[2] ? { python: match[2] } : {}), source: `the tag of ${image}` };
}

function fromRequirements(file: string | undefined, readText: (file: string) => string | undefined): DeclaredAirflow | undefined {
  const text = file ? readText(file) : undefined;
  const pinned = text && /^\s*apache-airflow(?:-core)?(?:\[[^\]]*\])?\s*==\s*(\d+\.\d+(?:\.\d+)?)/im.exec(text);
  return pinned ? { version: pinned[1], source: `the apache-airflow pin of ${file}` } : undefined;
}

function readQuietly(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
