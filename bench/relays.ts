/**
 * The two things the relay benchmarks compare, behind one interface: Charla's built server (auth,
 * PostgreSQL, Redis, limits, the real chat protocol) and the bare Socket.IO relay of
 * `bare-relay.ts`. Both run as their own process and are driven by real socket.io-client sockets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import {
  startServerProcess,
  waitUntilLive,
  type ServerProcess,
} from '../test/support/server-process';
import { signToken } from '../test/support/tokens';

/** When each delta of one reply arrived (`performance.now()`), from the send on. */
export interface ReplyTiming {
  sentAt: number;
  deltas: { text: string; at: number }[];
}

export interface RelayClient {
  /** Sends `content` and resolves when its reply is done. One reply at a time per client. */
  send(content: string): Promise<ReplyTiming>;
  close(): void;
}

export interface Relay {
  readonly name: string;
  readonly pid: number;
  connect(user: string): Promise<RelayClient>;
  stop(): Promise<void>;
}

const REPLY_TIMEOUT_MS = 60_000;
const ROOT = resolve(__dirname, '..');

/** Resident memory of a process, from /proc (Linux), in bytes. */
export function residentBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Resolves once the socket is connected; rejects with its connect_error, or after 10 s. */
function connected(socket: Socket): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error('no connection within 10 s'));
    }, 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Collects one reply's deltas: `start` emits the request, `delta` and `end` are the events carrying
 * a delta's text and the reply's end. Rejects on `failure` or after REPLY_TIMEOUT_MS.
 */
function collect(
  socket: Socket,
  events: { delta: string; end: string; failure: string },
  start: () => void,
): Promise<ReplyTiming> {
  const timing: ReplyTiming = { sentAt: performance.now(), deltas: [] };
  return new Promise<ReplyTiming>((done, fail) => {
    const onDelta = (d: { text: string }) =>
      timing.deltas.push({ text: d.text, at: performance.now() });
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.off(events.delta, onDelta).off(events.end, onEnd).off(events.failure, onFailure);
      if (error) fail(error);
      else done(timing);
    };
    const onEnd = () => finish();
    const onFailure = (e: unknown) => finish(new Error(`reply failed: ${JSON.stringify(e)}`));
    const timer = setTimeout(() => finish(new Error('reply timed out')), REPLY_TIMEOUT_MS);
    socket.on(events.delta, onDelta).on(events.end, onEnd).on(events.failure, onFailure);
    timing.sentAt = performance.now();
    start();
  });
}

/** Charla's built server (`dist/src/main.js`), as `npm start` runs it. */
export class CharlaRelay implements Relay {
  private constructor(
    readonly name: string,
    private readonly server: ServerProcess,
  ) {}

  static async start(name: string, env: Record<string, string>): Promise<CharlaRelay> {
    // At LOG_LEVEL=warn there is no "Listening on" line to wait for: readiness is polled.
    const server = await startServerProcess({ LOG_LEVEL: 'warn', ...env }, ROOT, 0);
    await waitUntilLive(server, 60_000);
    return new CharlaRelay(name, server);
  }

  get pid(): number {
    return this.server.child.pid!;
  }

  get url(): string {
    return this.server.url;
  }

  async connect(user: string): Promise<RelayClient> {
    const socket = await connected(
      io(`${this.server.url}/chat`, {
        transports: ['websocket'],
        auth: { token: signToken(user, { sign: { expiresIn: '4h' } }) },
        reconnection: false,
        forceNew: true,
      }),
    );
    let conversationId: string | undefined;
    let sent = 0;
    return {
      send: async (content) => {
        let acked!: Promise<void>;
        const timing = collect(
          socket,
          { delta: 'chat:delta', end: 'chat:done', failure: 'chat:error' },
          () => {
            const request = { conversationId, clientMessageId: `${user}-${++sent}`, content };
            acked = socket
              .timeout(REPLY_TIMEOUT_MS)
              .emitWithAck('chat:send', request)
              .then((res: { ok: boolean; conversationId?: string; error?: unknown }) => {
                if (!res.ok) throw new Error(`chat:send refused: ${JSON.stringify(res.error)}`);
                conversationId = res.conversationId;
              });
          },
        );
        // A refused send fails at once instead of waiting for a reply that never comes.
        const [result] = await Promise.all([timing, acked]);
        return result;
      },
      close: () => socket.disconnect(),
    };
  }

  /** Everything the server printed (warnings and errors only, at LOG_LEVEL=warn). */
  output(): string {
    return this.server.output();
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

/** The bare Socket.IO relay of `bare-relay.ts`, run with tsx. */
export class BareRelay implements Relay {
  readonly name = 'bare Socket.IO relay';

  private constructor(
    private readonly child: ChildProcess,
    private readonly url: string,
  ) {}

  static async start(upstreamUrl: string): Promise<BareRelay> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(__dirname, 'bare-relay.ts')],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', UPSTREAM_URL: upstreamUrl, PORT: '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 30_000;
    let port: RegExpExecArray | null = null;
    while (!(port = /Listening on (\d+)/.exec(output)) && child.exitCode === null) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!port) {
      child.kill('SIGKILL');
      throw new Error(`the bare relay did not start: ${output}`);
    }
    return new BareRelay(child, `http://127.0.0.1:${port[1]}`);
  }

  get pid(): number {
    return this.child.pid!;
  }

  async connect(): Promise<RelayClient> {
    const socket = await connected(
      io(this.url, { transports: ['websocket'], reconnection: false, forceNew: true }),
    );
    let sent = 0;
    return {
      send: (content) => {
        const id = String(++sent);
        return collect(socket, { delta: 'delta', end: 'done', failure: 'failed' }, () =>
          socket.emit('send', { id, content }),
        );
      },
      close: () => socket.disconnect(),
    };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await once(this.child, 'exit');
  }
}
