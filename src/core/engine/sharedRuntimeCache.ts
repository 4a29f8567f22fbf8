/**
 * Runtimes whose prepared runtime cache (the migrated template database) is another runtime's. An image built
 * from a base image plus requirements runs the base's Airflow (held by a constraint) in the base's Python at the
 * base's prefix, so the harness looks for its template where the base's is (`runtime_key`: version, Python,
 * prefix) and the base's migration serves it: a new built image no longer migrates its own (20-70 s).
 */
const owners = new Map<string, string>();

/** `runtime`'s cache is `owner`'s from now on (in this process). */
export function shareRuntimeCache(runtime: string, owner: string): void {
  if (runtime !== owner) owners.set(runtime, owner);
}

/** The runtime whose prepared cache `runtime` uses: its owner's, or its own. */
export function runtimeCacheOwner(runtime: string): string {
  return owners.get(runtime) ?? runtime;
}
