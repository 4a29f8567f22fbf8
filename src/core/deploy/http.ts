import * as http from 'node:http';

/**
 * GET a JSON document from the local API server. node:http rather than fetch: Node 20's fetch holds no handle on
 * a connection Docker's port proxy accepted while the server behind it is not listening yet, so a process with
 * nothing else to wait for exits in the middle of the request (seen here).
 */
export function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if ((response.statusCode ?? 0) >= 400) return reject(new Error(`HTTP ${response.statusCode} from ${url}: ${body.slice(0, 300)}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch {
          reject(new Error(`not JSON from ${url}: ${body.slice(0, 300)}`));
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}
