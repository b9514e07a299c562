/** Reads the vault's plain-HTTP `/metrics` (src/metrics/listener.ts). */
import { request } from 'node:http';

export function scrapeMetrics(metricsUrl: string | undefined, path = '/metrics'): Promise<{ status: number; contentType: string; text: string }> {
  if (metricsUrl === undefined) throw new Error('metrics listener not started');
  return new Promise((resolve, reject) => {
    const req = request(`${metricsUrl}${path}`, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The series (name + labels) of the exposition text, without HELP/TYPE lines and values. */
export function seriesOf(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.slice(0, line.lastIndexOf(' ')));
}
