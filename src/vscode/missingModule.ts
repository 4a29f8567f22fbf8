/**
 * What a `ModuleNotFoundError` asks for, for the quick fix that adds a requirement: the distribution pip installs
 * for the missing module, only when we know it or the module's own name is a plausible one. A name one typo away
 * from a module everyone imports (`pandsa`), the project's own module, or a namespace we cannot split is not
 * offered: pip would install something else, or nothing, and the import would still fail. No `vscode` here.
 */
import { distributionFor } from '../core/runtime/packages';

/** `No module named 'airflow.providers.amazon'` → `airflow.providers.amazon`: the module Python did not find. */
export function missingModuleName(message: string): string | undefined {
  return /No module named '([^']+)'/.exec(message)?.[1];
}

/** What to add, and whether that name is known to provide the module (else it is the module's own name). */
export interface DistributionToAdd {
  distribution: string;
  known: boolean;
}

/** Provider packages whose name has two parts (`airflow.providers.cncf.kubernetes` → `apache-airflow-providers-cncf-kubernetes`). */
const PROVIDER_NAMESPACES = new Set(['apache', 'atlassian', 'cncf', 'common', 'dbt', 'microsoft']);

/** Packages under `google.` that are not `google.cloud.*`. */
const GOOGLE_PACKAGES: Record<string, string> = { auth: 'google-auth', oauth2: 'google-auth', protobuf: 'protobuf', api_core: 'google-api-core' };

/**
 * Modules that DAG code imports most, by import name (the standard library's too): a missing name one edit away
 * from one of these is a typo of it.
 */
const WELL_KNOWN = [
  'pandas', 'numpy', 'scipy', 'requests', 'boto3', 'botocore', 'boto', 'sqlalchemy', 'pyarrow', 'matplotlib', 'seaborn',
  'openpyxl', 'xlrd', 'pytz', 'pendulum', 'jinja2', 'click', 'httpx', 'pydantic', 'polars', 'duckdb', 'snowflake',
  'psycopg2', 'psycopg', 'pymysql', 'pymongo', 'redis', 'kafka', 'confluent_kafka', 'paramiko', 's3fs', 'gcsfs', 'fsspec',
  'tenacity', 'tqdm', 'lxml', 'jsonschema', 'simplejson', 'ujson', 'orjson', 'toml', 'tomli', 'yaml', 'sklearn', 'cv2',
  'PIL', 'bs4', 'dateutil', 'dotenv', 'jwt', 'MySQLdb', 'attr', 'attrs', 'magic', 'Crypto', 'great_expectations', 'dbt',
  'airflow', 'elasticsearch', 'kubernetes', 'docker', 'azure', 'google', 'pyspark', 'pyodbc', 'oracledb', 'slack_sdk',
  'openai', 'tensorflow', 'torch', 'transformers', 'statsmodels', 'plotly', 'dask', 'sympy', 'networkx', 'shapely',
  'geopandas', 'rich', 'typer', 'fastapi', 'flask', 'celery', 'mlflow', 'smart_open', 'fastavro', 'avro', 'pysftp',
  'json', 'csv', 'os', 'sys', 're', 'datetime', 'time', 'logging', 'pathlib', 'subprocess', 'collections', 'itertools',
  'functools', 'typing', 'random', 'math', 'decimal', 'uuid', 'hashlib', 'base64', 'tempfile', 'shutil', 'glob', 'gzip',
  'zipfile', 'tarfile', 'urllib', 'http', 'socket', 'threading', 'multiprocessing', 'asyncio', 'dataclasses', 'enum',
  'textwrap', 'string', 'struct', 'pickle', 'copy', 'pprint', 'argparse', 'configparser', 'sqlite3', 'smtplib', 'email',
];

/**
 * The distribution to add for a missing module: a provider package, a Google Cloud library, a known import name
 * (`yaml` → `PyYAML`), else the module's own name when it could be a distribution's. `isProjectModule` says
 * whether a top-level name is the project's own (a folder or file beside the DAGs): that is a path, not a package.
 */
export function distributionToAdd(missing: string, isProjectModule: (topLevel: string) => boolean, alsoKnown: readonly string[] = []): DistributionToAdd | undefined {
  const parts = missing.split('.');
  const [top] = parts;
  if (!top || parts.some((part) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(part))) return undefined;
  if (top === 'airflow') {
    if (parts[1] !== 'providers' || !parts[2]) return undefined;  // Airflow itself is the runtime's, never a requirement
    const name = PROVIDER_NAMESPACES.has(parts[2]) ? (parts[3] ? `${parts[2]}-${parts[3]}` : undefined) : parts[2];
    return name ? { distribution: `apache-airflow-providers-${name.replace(/_/g, '-')}`, known: true } : undefined;
  }
  if (top === 'google') {
    if (parts[1] === 'cloud') return parts[2] ? { distribution: `google-cloud-${parts[2].replace(/_/g, '-')}`, known: true } : undefined;
    const known = parts[1] ? GOOGLE_PACKAGES[parts[1]] : undefined;
    return known ? { distribution: known, known: true } : undefined;
  }
  if (isProjectModule(top)) return undefined;
  const mapped = distributionFor(top);
  if (mapped !== top) return { distribution: mapped, known: true };
  if (top.startsWith('_') || typoOf(top, [...WELL_KNOWN, ...alsoKnown])) return undefined;
  return { distribution: top, known: false };
}

/** The well-known name `name` is one slip away from (a swap, a missing, extra or wrong letter), if any. */
export function typoOf(name: string, known: readonly string[]): string | undefined {
  const normal = (text: string) => text.toLowerCase().replace(/[-_.]+/g, '_');
  const wanted = normal(name);
  if (known.some((k) => normal(k) === wanted)) return undefined;
  const allowed = wanted.length >= 8 ? 2 : wanted.length >= 4 ? 1 : 0;
  return known.find((k) => editDistance(wanted, normal(k)) <= allowed);
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of two neighbours. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
