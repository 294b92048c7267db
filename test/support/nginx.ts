import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './server-process';

/** Where Debian's nginx (package nginx-light) puts its binary. */
export const NGINX_BINARY = '/usr/sbin/nginx';
/** The repository's nginx.conf, the one docker-compose.yml mounts. */
const NGINX_CONF = resolve(__dirname, '../../nginx.conf');

/** Files of one nginx run, all inside its private prefix directory. */
interface NginxPaths {
  prefix: string;
  conf: string;
  accessLog: string;
  errorLog: string;
}

export interface RunningNginx {
  /** Base URL, e.g. http://127.0.0.1:43210 */
  url: string;
  /** The access log as written so far (nginx writes a line when a request or connection ends). */
  accessLog(): string;
  /** Stops the nginx master this object started (it takes its workers along) and removes its files. */
  stop(): Promise<void>;
}

/**
 * Runs the repository's nginx.conf in front of `upstreams` (`host:port`, one per `server appN:3000`
 * line), unprivileged and in a temporary prefix. Only what must differ on loopback is rewritten.
 */
export async function startNginx(upstreams: string[], timeoutMs = 10_000): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'charla-nginx-'));
  const paths: NginxPaths = {
    prefix,
    conf: join(prefix, 'nginx.conf'),
    accessLog: join(prefix, 'access.log'),
    errorLog: join(prefix, 'error.log'),
  };
  const port = await freePort();
  writeFileSync(
    paths.conf,
    loopbackConfig(readFileSync(NGINX_CONF, 'utf8'), upstreams, port, paths),
  );
  writeFileSync(paths.accessLog, '');

  const child = spawn(NGINX_BINARY, ['-p', prefix, '-c', paths.conf], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const read = (file: string) => readFileSync(file, 'utf8');
  const stop = async () => {
    await stopProcess(child);
    rmSync(prefix, { recursive: true, force: true });
  };

  if (!(await listening(child, port, timeoutMs))) {
    const errorLog = read(paths.errorLog);
    await stop();
    throw new Error(`nginx did not start on port ${port}:\n${output}\n${errorLog}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    accessLog: () => read(paths.accessLog),
    stop,
  };
}

/**
 * The repository's nginx.conf with the docker-compose addresses (app1:3000, app2:3000, port 80,
 * access log to stdout) replaced by loopback ones, plus what a run in a private prefix needs.
 */
function loopbackConfig(
  conf: string,
  upstreams: string[],
  port: number,
  paths: NginxPaths,
): string {
  const rewrites: [RegExp, string][] = [
    [/listen 80;/, `listen 127.0.0.1:${port};`],
    [/access_log \/dev\/stdout charla;/, `access_log ${paths.accessLog} charla;`],
    [/^http \{$/m, ['http {', ...tempPathDirectives(paths.prefix)].join('\n')],
  ];
  const http = rewrites.reduce(
    (text, [pattern, replacement]) => replaceOnce(text, pattern, replacement),
    pointAtUpstreams(conf, upstreams),
  );
  return [...mainDirectives(paths), http].join('\n');
}

/** One `server appN:3000;` line per upstream, in order. */
function pointAtUpstreams(conf: string, upstreams: string[]): string {
  const servers = /server app\d+:3000;/g;
  const count = conf.match(servers)?.length ?? 0;
  if (count !== upstreams.length) {
    throw new Error(
      `nginx.conf names ${count} upstream servers, the test runs ${upstreams.length}`,
    );
  }
  let next = 0;
  return conf.replace(servers, () => `server ${upstreams[next++]};`);
}

/** Main-context directives for a foreground run that writes nothing outside the prefix. */
function mainDirectives(paths: NginxPaths): string[] {
  return [
    // In the foreground the master is the child process the test started, so it can stop it by PID.
    'daemon off;',
    `pid ${join(paths.prefix, 'nginx.pid')};`,
    `error_log ${paths.errorLog};`,
    // As root, workers would switch to `nobody`, which cannot enter the private (0700) prefix.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
  ];
}

/** The compiled-in temp paths (/var/lib/nginx/...) are not writable, or not there, in a test. */
function tempPathDirectives(prefix: string): string[] {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
    (kind) => `  ${kind}_temp_path ${join(prefix, `${kind}_temp`)};`,
  );
}

/** Replaces the one match of `pattern`; throws when nginx.conf no longer has it. */
function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(text)) throw new Error(`nginx.conf has no line matching ${pattern}`);
  return text.replace(pattern, replacement);
}

/** Whether nginx accepts connections on `port` before it exits or the time is up. */
async function listening(child: ChildProcess, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (child.exitCode === null && Date.now() < deadline) {
    if (await accepts(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** SIGTERM (nginx's fast shutdown, which closes open WebSockets), then SIGKILL if it lingers. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}
