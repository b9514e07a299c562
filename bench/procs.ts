/**
 * Processes the /forward bench compares: children started with tsx that tell
 * their port, nginx (Debian `nginx-light`) as an injecting proxy, and the CPU
 * time of any of them from /proc (utime + stime of every thread).
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/free-port.js';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU time (µs) a process has used so far, all its threads. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1e6;
}

export interface ChildServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Forks `bench/<script>` under tsx and waits for its `{ port }`. */
export async function startChild(script: string, env: Record<string, string>): Promise<ChildServer> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.disconnect();
    setTimeout(() => child.kill(), 2_000).unref();
  });
}

export interface NginxProxy {
  port: number;
  /** The one worker's pid (the master only forks and waits). */
  workerPid: number;
  stop(): Promise<void>;
}

/** Where nginx is, if installed (`apt-get install -y nginx-light`). */
export function nginxBinary(): string | undefined {
  return ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
}

/**
 * nginx as an injecting proxy: one worker, an mTLS listener with the vault's
 * certificates and client-CA, `proxy_pass` to the upstream over a keep-alive
 * pool with the bearer token set, no access log.
 */
export async function startNginx(binary: string, tls: { cert: string; key: string; ca: string }, upstreamPort: number, token: string): Promise<NginxProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  for (const [name, pem] of Object.entries(tls)) writeFileSync(join(dir, `${name}.pem`), pem);
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream api { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_client_certificate ${dir}/ca.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000;
    location /api/ {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${token}";
    }
  }
}
`,
  );
  const master = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  let workerPid: number | undefined;
  for (let i = 0; i < 100 && workerPid === undefined; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const children = existsSync(`/proc/${master.pid}/task/${master.pid}/children`)
      ? readFileSync(`/proc/${master.pid}/task/${master.pid}/children`, 'latin1').trim()
      : '';
    if (children) workerPid = Number(children.split(' ')[0]);
  }
  if (workerPid === undefined) throw new Error(`nginx did not start: ${readFileSync(join(dir, 'error.log'), 'latin1')}`);
  return {
    port,
    workerPid,
    stop: () =>
      new Promise((resolve) => {
        master.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        master.kill('SIGQUIT');
      }),
  };
}
