import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const SERVER_ENTRY = resolve(__dirname, '../../dist/src/main.js');

/** A free loopback port (the server process must be told one up front). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote so far (stdout + stderr). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs the built server (`node dist/src/main.js`, what `npm start` runs) as its own process, with
 * only the given environment, and waits until it listens or exits. Stops only the process it started.
 */
export async function startServerProcess(
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 30_000,
): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await once(child, 'exit');
    clearTimeout(killer);
  };
  const deadline = Date.now() + timeoutMs;
  while (!output.includes('Listening on') && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, stop };
}

/**
 * Polls `GET /api/health/live` until the server answers (for servers started at LOG_LEVEL=warn,
 * which never print "Listening on"); stops the server and throws if it does not within `timeoutMs`.
 */
export async function waitUntilLive(server: ServerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (server.child.exitCode === null && Date.now() < deadline) {
    const live = await fetch(`${server.url}/api/health/live`).then(
      (response) => response.ok,
      () => false,
    );
    if (live) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await server.stop();
  throw new Error(`Charla did not start:\n${server.output()}`);
}

/** Runs the server expecting it to refuse to start; resolves with its exit code and output. */
export async function runUntilExit(
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number | null; output: string }> {
  const server = await startServerProcess(env, cwd, 30_000);
  if (server.child.exitCode === null) {
    await server.stop();
    throw new Error(`server did not refuse to start:\n${server.output()}`);
  }
  return { code: server.child.exitCode, output: server.output() };
}
