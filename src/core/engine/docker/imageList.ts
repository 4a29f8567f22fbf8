import type Docker from 'dockerode';
import { declaredAirflowOf } from '../../runtime/declaredAirflow';

/** An image the engine has, by one of its tags, with the Airflow it says it carries. */
export interface EngineImage {
  reference: string;
  /** From the image's `org.apache.airflow.version` label (the official images have it), else its tag. */
  airflowVersion?: string;
  /** Seconds since the epoch, as the engine says. */
  created: number;
}

/** What `docker image ls` says, in the shape this module reads. */
export interface ListedImage {
  RepoTags?: string[] | null;
  Labels?: Record<string, string> | null;
  Created: number;
}

/** Every tag of every image, Airflow images first (newest Airflow, then newest image), then the rest, newest first. */
export function rankImages(listed: readonly ListedImage[]): EngineImage[] {
  const images: EngineImage[] = [];
  for (const image of listed) {
    for (const reference of image.RepoTags ?? []) {
      if (reference === '<none>:<none>') continue;
      const airflowVersion = image.Labels?.['org.apache.airflow.version'] ?? declaredAirflowOf({ image: reference })?.version;
      images.push({ reference, ...(airflowVersion ? { airflowVersion } : {}), created: image.Created });
    }
  }
  const version = (v: string | undefined) => (v ?? '').split('.').map((n) => Number(n) || 0);
  return images.sort((a, b) => {
    if (!!a.airflowVersion !== !!b.airflowVersion) return a.airflowVersion ? -1 : 1;
    const [va, vb] = [version(a.airflowVersion), version(b.airflowVersion)];
    for (let i = 0; i < Math.max(va.length, vb.length); i++) if ((va[i] ?? 0) !== (vb[i] ?? 0)) return (vb[i] ?? 0) - (va[i] ?? 0);
    return b.created - a.created || a.reference.localeCompare(b.reference);
  });
}

/** The images of an engine, for a person to pick from (a fix-it, completion on a runtime file's `image:` line). */
export async function engineImages(docker: Docker): Promise<EngineImage[]> {
  return rankImages(await docker.listImages() as ListedImage[]);
}
