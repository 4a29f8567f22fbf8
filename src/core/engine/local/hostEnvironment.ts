/** Variables a clean environment keeps from ours: what a process needs to find things and speak the locale. */
const INHERITED = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'SYSTEMROOT'];

/** What a package installer needs besides: proxies, certificates, package indexes and its cache. */
const INSTALLER = [
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE',
  'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST', 'PIP_CERT', 'PIP_CONFIG_FILE',
  'UV_INDEX_URL', 'UV_EXTRA_INDEX_URL', 'UV_INDEX', 'UV_DEFAULT_INDEX', 'UV_CACHE_DIR', 'UV_NATIVE_TLS', 'XDG_CACHE_HOME',
];

/**
 * Our environment cut down to an allowlist: the harness gets `harness`, the venv build `installer` too. Nothing
 * else of the host's (cloud credentials, tokens, DOCKER_HOST) reaches DAG code or a requirements file's packages.
 */
export function hostEnvironment(kind: 'harness' | 'installer', from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const names = kind === 'installer' ? [...INHERITED, ...INSTALLER] : INHERITED;
  const out: Record<string, string> = {};
  for (const name of names) if (from[name] !== undefined) out[name] = from[name]!;
  return out;
}
