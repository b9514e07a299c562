/**
 * Where a CPU profile's time goes, by component: `npx tsx bench/profile-summary.ts <file.cpuprofile> [requests]`.
 *
 * Take the profile of the process serving the load, e.g. the exchange alone:
 *   BENCH_ONLY=exchange BENCH_PEER=off BENCH_ROUNDS=1 node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts
 * (the load generator is a child process, so the profile holds the vault and little else).
 * Self time is summed per component: a package under node_modules, a folder of src/, Node's own
 * modules, the garbage collector, idle time. With `requests`, each row is also given per request.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export function componentOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src|bench|test)\/(?:([^/]+)\/)?[^/]+$/.exec(url);
  if (own) return own[2] ? `${own[1]}/${own[2]}` : `${own[1]}/(top)`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0]!;
  return '(other)';
}

export function summarise(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const key = componentOf(node.callFrame.url, node.callFrame.functionName);
    selfUs.set(key, (selfUs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return selfUs;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [file, requestsArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [requests]');
  const selfUs = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const requests = Number(requestsArg ?? 0);
  const busy = [...selfUs].filter(([k]) => k !== '(idle)' && k !== '(program)').reduce((s, [, v]) => s + v, 0);
  const rows = [...selfUs].sort((a, b) => b[1] - a[1]);
  console.log(`| component | self ms | share of busy |${requests ? ' µs per request |' : ''}`);
  console.log(`|---|---|---|${requests ? '---|' : ''}`);
  for (const [k, us] of rows) {
    const share = k === '(idle)' || k === '(program)' ? '' : `${((100 * us) / busy).toFixed(1)} %`;
    console.log(`| ${k} | ${(us / 1000).toFixed(0)} | ${share} |${requests ? ` ${(us / requests).toFixed(1)} |` : ''}`);
  }
  console.log(`busy ${(busy / 1000).toFixed(0)} ms${requests ? `, ${(busy / requests).toFixed(1)} µs per request over ${requests}` : ''}`);
}
