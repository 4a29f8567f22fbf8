/** Import names whose package on PyPI is called otherwise: what `pip install` needs for `import X`. */
const DISTRIBUTION_OF: Record<string, string> = {
  yaml: 'PyYAML', sklearn: 'scikit-learn', cv2: 'opencv-python', PIL: 'Pillow', bs4: 'beautifulsoup4',
  dateutil: 'python-dateutil', dotenv: 'python-dotenv', jwt: 'PyJWT', psycopg2: 'psycopg2-binary', MySQLdb: 'mysqlclient',
  google: 'google-cloud-core', attr: 'attrs', magic: 'python-magic', Crypto: 'pycryptodome',
};

/** `No module named 'pandas.core'` → `pandas`, the module a requirements file would name; undefined for other messages. */
export function missingModuleOf(message: string): string | undefined {
  const found = /No module named '([^']+)'/.exec(message);
  return found?.[1].split('.')[0];
}

/** The requirement line for a top-level module (`sklearn` → `scikit-learn`). */
export function distributionFor(module: string): string {
  return DISTRIBUTION_OF[module] ?? module;
}

/** Whether a requirements file already names the distribution (case, `-` and `_` aside, any version spec). */
export function requiresDistribution(requirementsText: string, distribution: string): boolean {
  const normal = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');
  return requirementsText.split(/\r?\n/).some((line) => {
    const name = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line.replace(/#.*/, ''))?.[1];
    return !!name && normal(name) === normal(distribution);
  });
}
