import type { ChatDelta, MessageDto, ServerToClientEvents, WireError } from '@charla/contracts';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { FakeLlm, type FakeReply } from './fake-llm';
import { request } from './http';
import { removeDataDir, startApp, type Env, type StorageSetup, type TestApp } from './test-app';
import { bearer } from './tokens';

type ServerEvent = keyof ServerToClientEvents;
type EventData<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

const DEFAULT_WAIT_MS = 3000;

/** Environment for an app that talks to `fake`; deltas are not coalesced unless `env` says so. */
export function chatAppEnv(fake: FakeLlm, env: Env = {}): Env {
  return {
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'test',
    LLM_MODEL: 'fake-model',
    LLM_RETRY_BASE_DELAY_MS: '10',
    CHAT_COALESCE_MS: '0',
    SHUTDOWN_GRACE_MS: '0',
    ...env,
  };
}

/** One server → client event as a test client received it. */
export interface Received {
  event: string;
  data: any;
}

/** A reply as one client saw it: its deltas in arrival order, then chat:done or chat:error. */
export interface ReplySeen {
  deltas: ChatDelta[];
  /** The deltas' texts joined. */
  text: string;
  done?: MessageDto;
  error?: WireError;
}

const open = new Set<ChatClient>();

/** Closes every client opened since the last call (an `afterEach` of each chat suite). */
export function closeClients(): void {
  for (const client of open) client.close();
  open.clear();
}

/** What the Socket.IO and plain-WebSocket test clients share: a log of server events to wait on. */
export abstract class ChatClient {
  /** Every server → client event, in arrival order (acks excluded). */
  readonly received: Received[] = [];
  private readonly watchers = new Set<() => void>();

  constructor() {
    open.add(this);
  }

  /** Sends a request and resolves with its ack's data; rejects when no ack comes in time. */
  abstract request(event: string, data: unknown, timeoutMs?: number): Promise<any>;
  /** Sends an event that takes no ack. */
  abstract emit(event: string, data: unknown): void;
  abstract close(): void;

  /** The data of every `event` received so far (`error` is the /ws error frame). */
  of<E extends ServerEvent>(event: E): EventData<E>[];
  of(event: 'error'): WireError[];
  of(event: string): unknown[] {
    return this.received.filter((r) => r.event === event).map((r) => r.data);
  }

  /** Resolves with the first `event` (already received or to come) whose data matches. */
  next<E extends ServerEvent>(
    event: E,
    matches: (data: EventData<E>) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<EventData<E>> {
    return this.until(() => this.of(event).find(matches), timeoutMs, `"${event}"`);
  }

  /** Waits for the reply's chat:done or chat:error, and returns what arrived of it until then. */
  async collectReply(replyId: string, timeoutMs = 5000): Promise<ReplySeen> {
    const end = await this.until(
      () =>
        this.received.find(
          (r) =>
            (r.event === 'chat:done' || r.event === 'chat:error') && r.data.replyId === replyId,
        ),
      timeoutMs,
      `the end of reply ${replyId}`,
    );
    const deltas = this.of('chat:delta').filter((d) => d.replyId === replyId);
    return {
      deltas,
      text: deltas.map((d) => d.text).join(''),
      done: end.event === 'chat:done' ? end.data.message : undefined,
      error: end.event === 'chat:error' ? end.data.error : undefined,
    };
  }

  /** Resolves with `find()`'s first defined value, re-checked on every arrival; bounded in time. */
  until<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = find();
        if (value === undefined) return;
        stop();
        resolve(value);
      };
      const timer = setTimeout(() => {
        stop();
        const seen = this.received.map((r) => r.event).join(', ') || 'nothing';
        reject(new Error(`Waited ${timeoutMs} ms for ${what}; received: ${seen}`));
      }, timeoutMs);
      const stop = () => {
        clearTimeout(timer);
        this.watchers.delete(check);
      };
      this.watchers.add(check);
    });
  }

  protected record(event: string, data: unknown): void {
    this.received.push({ event, data });
    this.changed();
  }

  protected changed(): void {
    for (const check of [...this.watchers]) check();
  }
}

export class SocketIoClient extends ChatClient {
  constructor(readonly socket: Socket) {
    super();
    socket.onAny((event: string, data: unknown) => this.record(event, data));
    // Wakes `disconnected()`.
    socket.on('disconnect', () => this.changed());
  }

  request(event: string, data: unknown, timeoutMs = DEFAULT_WAIT_MS): Promise<any> {
    return this.socket.timeout(timeoutMs).emitWithAck(event, data);
  }

  emit(event: string, data: unknown): void {
    this.socket.emit(event, data);
  }

  /** Resolves when the server disconnects this socket, with Socket.IO's reason. */
  disconnected(timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.until(
      () => (this.socket.connected ? undefined : 'disconnected'),
      timeoutMs,
      'the disconnection',
    );
  }

  close(): void {
    this.socket.disconnect();
  }
}

export interface SocketIoOptions {
  /** Sent as `auth: { token }`. */
  token?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

function socketIo(baseUrl: string, options: SocketIoOptions): SocketIoClient {
  const socket = io(`${baseUrl}/chat`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: DEFAULT_WAIT_MS,
    auth: options.token ? { token: options.token } : {},
    extraHeaders: options.headers,
    query: options.query,
  });
  return new SocketIoClient(socket);
}

/** A connected Socket.IO client of the `/chat` namespace; rejects with the connect_error. */
export async function connectSocketIo(
  baseUrl: string,
  options: SocketIoOptions,
): Promise<SocketIoClient> {
  const client = socketIo(baseUrl, options);
  const socket = client.socket;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return client;
}

/** The connect_error of a handshake expected to be refused (`data` holds `{ code, message }`). */
export async function refusedSocketIo(
  baseUrl: string,
  options: SocketIoOptions,
): Promise<Error & { data?: WireError }> {
  const { socket } = socketIo(baseUrl, options);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('the handshake was accepted')));
    socket.once('connect_error', resolve);
  });
}

/** A `/ws` frame as received. */
export interface Frame {
  type: string;
  data?: any;
  id?: string | number;
}

export class WsClient extends ChatClient {
  /** Every frame received, acks included. */
  readonly frames: Frame[] = [];
  /** Settles when the connection closes, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 0;

  constructor(readonly ws: WebSocket) {
    super();
    this.closed = once(ws, 'close').then(([code, reason]) => ({
      code: code as number,
      reason: String(reason),
    }));
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame;
      this.frames.push(frame);
      if (frame.type === 'ack') this.changed();
      else this.record(frame.type, frame.data);
    });
    // A refused or broken connection shows in `closed`; without a listener it would throw.
    ws.on('error', () => undefined);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  async request(type: string, data: unknown, timeoutMs = DEFAULT_WAIT_MS): Promise<any> {
    const id = `req-${++this.nextId}`;
    this.send({ type, data, id });
    const ack = await this.until(
      () => this.frames.find((f) => f.type === 'ack' && f.id === id),
      timeoutMs,
      `the ack of ${type} (${id})`,
    );
    return ack.data;
  }

  emit(type: string, data: unknown): void {
    this.send({ type, data });
  }

  /** Sends any frame, or raw text as it is. */
  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close();
  }
}

export interface WsOptions {
  /** Sent as `Authorization: Bearer <token>` on the upgrade request. */
  token?: string;
  /** Sent as the first frame `{"type":"auth","data":{"token"}}`, whose ack is awaited. */
  authFrame?: string;
}

/** An open `/ws` connection, authenticated as asked. */
export async function connectWs(baseUrl: string, options: WsOptions = {}): Promise<WsClient> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`, {
    headers: options.token ? bearer(options.token) : {},
  });
  const client = new WsClient(ws);
  await Promise.race([
    once(ws, 'open'),
    client.closed.then(({ code }) => {
      throw new Error(`/ws closed before opening (${code})`);
    }),
  ]);
  if (options.authFrame) {
    const ack = await client.request('auth', { token: options.authFrame });
    if (!ack.ok) throw new Error(`auth frame refused: ${JSON.stringify(ack)}`);
  }
  return client;
}

/** The HTTP answer to a `/ws` upgrade expected to be refused. */
export async function refusedWs(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${path}`, { headers });
  ws.on('error', () => undefined);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  let text = '';
  for await (const chunk of res) text += String(chunk);
  ws.terminate();
  return { status: res.statusCode ?? 0, body: JSON.parse(text) };
}

/** A conversation's stored messages, oldest first, as the history endpoint returns them. */
export async function storedMessages(
  baseUrl: string,
  token: string,
  conversationId: string,
): Promise<MessageDto[]> {
  const res = await request<{ data: MessageDto[] }>(
    `${baseUrl}/api/conversations/${conversationId}/messages?limit=100`,
    { headers: bearer(token) },
  );
  if (res.status !== 200) throw new Error(`history answered ${res.status}`);
  return [...res.body.data].reverse();
}

/** A chat suite's running app and the fake LLM it talks to; `app` is set once `beforeAll` ran. */
export interface ChatSuite {
  fake: FakeLlm;
  app: TestApp;
}

/**
 * Registers a chat suite's hooks: a fake LLM and an app talking to it, started once for the
 * suite and stopped after it; clients closed and the fake's scripts reset to `defaultReply` after
 * each test.
 */
export function chatSuite(
  setup: StorageSetup,
  env: Env = {},
  defaultReply: FakeReply = {},
): ChatSuite {
  const suite = { fake: new FakeLlm(defaultReply) } as ChatSuite;
  beforeAll(async () => {
    await suite.fake.start();
    suite.app = await startApp({ ...setup.env(), ...chatAppEnv(suite.fake, env) });
  });
  afterEach(() => {
    closeClients();
    suite.fake.reset();
    suite.fake.setDefault(defaultReply);
  });
  afterAll(async () => {
    await suite.app.close();
    await suite.fake.stop();
    removeDataDir(suite.app.env);
  });
  return suite;
}
