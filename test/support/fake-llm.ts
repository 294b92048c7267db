import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A successful answer, streamed as SSE when the request asks for `stream: true`, else one JSON body. */
export interface FakeReply {
  /** The whole reply. Default: echoes the last user message. */
  text?: string;
  /** Exact chunks to stream (their concatenation is the reply); overrides `text`. */
  chunks?: string[];
  /** Split `text` into chunks of this many characters. Default: one word (with its leading space) per chunk. */
  chunkSize?: number;
  /** Wait before the first chunk (headers are sent at once, as real servers do). */
  firstTokenDelayMs?: number;
  /** Wait between chunks. */
  tokenDelayMs?: number;
  /**
   * Usage to report: given numbers, `true` for rough counts (chars / 4, one token per chunk), or `false`
   * for a server that never reports usage. Streams report it only when the client asked for it
   * (`stream_options.include_usage`), like OpenAI. Default: true.
   */
  usage?: boolean | { prompt_tokens: number; completion_tokens: number };
  /** Default: 'stop'. */
  finishReason?: string;
  /** Default: the model the request named. */
  model?: string;
  /**
   * Send this many chunks (at most all of them), then go silent with the connection open: 0 is silent
   * from the start, all of them is silent before the finish. A JSON answer stalls before its body.
   */
  stallAfterChunks?: number;
  /** Like `stallAfterChunks`, but then destroy the socket. */
  dropAfterChunks?: number;
}

/** An HTTP error with an OpenAI-style body `{ error: { message, type, param, code } }`. */
export interface FakeHttpError {
  status: number;
  message?: string;
  type?: string;
  code?: string | null;
  /** `retry-after` header, in seconds. */
  retryAfter?: number;
  /** `retry-after-ms` header (OpenAI sends it beside `retry-after`). */
  retryAfterMs?: number;
}

export type FakeScript = FakeReply | FakeHttpError;
/** A script, or a function choosing one from the request. */
export type ScriptSource = FakeScript | ((request: RecordedRequest) => FakeScript);

/** The chat-completions body as received; only the fields the fake reads are typed. */
export interface ChatRequestBody {
  model?: string;
  messages?: { role: string; content: string }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
  [field: string]: unknown;
}

/**
 * How an exchange ended: the fake completed its response, the client closed the connection first,
 * or the fake dropped it (a `dropAfterChunks` script, or `stop()`). `at` is `Date.now()`.
 */
export interface RequestEnd {
  how: 'completed' | 'client-closed' | 'dropped';
  at: number;
}

export interface RecordedRequest {
  /** 0-based, in arrival order. */
  index: number;
  /** `Date.now()` when the request body had arrived. */
  receivedAt: number;
  headers: IncomingHttpHeaders;
  body: ChatRequestBody;
  messages: { role: string; content: string }[];
  stream: boolean;
  /** Settles when the exchange ends; see `FakeLlm.waitForEnd` for a bounded wait. */
  ended: Promise<RequestEnd>;
  /**
   * `performance.now()` when the body had arrived and when each streamed content chunk was written,
   * with the chunk's text: what benchmarks need to tell the upstream's own latency from the relay's.
   */
  timing: { received: number; chunks: { text: string; at: number }[] };
}

const CHAT_COMPLETIONS = '/v1/chat/completions';

/**
 * A real HTTP server on 127.0.0.1 speaking OpenAI's `POST /v1/chat/completions`, scripted per request:
 * each request takes the next queued script, or the default one when the queue is empty.
 * Unreferenced, so a forgotten `stop()` never keeps the process alive.
 */
export class FakeLlm {
  /** Every chat-completions request received, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly queue: ScriptSource[] = [];
  private server?: Server;
  private stopping = false;

  /** @param defaultScript answers requests when the queue is empty; default: echo the last user message. */
  constructor(private defaultScript: ScriptSource = {}) {}

  /** Base URL for an OpenAI client, ending in `/v1`. Valid after `start()`. */
  get url(): string {
    if (!this.server) throw new Error('FakeLlm is not started');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Listens on 127.0.0.1 on a free port. */
  async start(): Promise<this> {
    const server = createServer((req, res) => {
      // A script that throws shows up as a dropped connection rather than a client left hanging.
      this.handle(req, res).catch(() => res.socket?.destroy());
    });
    server.on('connection', (socket) => socket.unref());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    server.unref();
    this.server = server;
    this.stopping = false;
    return this;
  }

  /** Closes every connection (ending stalled responses as 'dropped') and the server. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.stopping = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  /** Queues scripts, consumed one per request in order. */
  enqueue(...scripts: ScriptSource[]): this {
    this.queue.push(...scripts);
    return this;
  }

  /** Sets the script used when the queue is empty. */
  setDefault(script: ScriptSource): this {
    this.defaultScript = script;
    return this;
  }

  /** Forgets recorded requests and queued scripts (the default script stays). */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
  }

  /** Resolves once at least `count` requests have arrived; rejects after `timeoutMs`. */
  async waitForRequests(count: number, timeoutMs = 2000): Promise<RecordedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`FakeLlm: expected ${count} requests, got ${this.requests.length}`);
      }
      await sleep(5);
    }
    return this.requests;
  }

  /** How `request`'s exchange ended; rejects if it has not ended within `timeoutMs`. */
  async waitForEnd(request: RecordedRequest, timeoutMs = 2000): Promise<RequestEnd> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      const error = new Error(`FakeLlm: request ${request.index} still open after ${timeoutMs} ms`);
      timer = setTimeout(() => reject(error), timeoutMs);
    });
    try {
      return await Promise.race([request.ended, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url !== CHAT_COMPLETIONS) {
      return sendError(res, { status: 404, message: `${req.method} ${req.url} is not faked` });
    }
    let body: ChatRequestBody;
    try {
      body = JSON.parse(raw) as ChatRequestBody;
    } catch {
      return sendError(res, { status: 400, message: 'body is not JSON' });
    }
    const request = this.record(req, res, body);
    const source = this.queue.shift() ?? this.defaultScript;
    const script = typeof source === 'function' ? source(request) : source;
    // Pending delays end when the client goes away, or on stop().
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    try {
      if ('status' in script) sendError(res, script);
      else if (request.stream) await streamReply(res, script, request, gone.signal);
      else await sendCompletion(res, script, request, gone.signal);
    } catch (error) {
      if (!gone.signal.aborted) throw error;
    }
  }

  private record(
    req: IncomingMessage,
    res: ServerResponse,
    body: ChatRequestBody,
  ): RecordedRequest {
    const ended = new Promise<RequestEnd>((resolve) => {
      res.on('close', () => {
        const how = res.writableFinished
          ? 'completed'
          : this.stopping || droppedResponses.has(res)
            ? 'dropped'
            : 'client-closed';
        resolve({ how, at: Date.now() });
      });
    });
    const request: RecordedRequest = {
      index: this.requests.length,
      receivedAt: Date.now(),
      headers: req.headers,
      body,
      messages: body.messages ?? [],
      stream: body.stream === true,
      ended,
      timing: { received: performance.now(), chunks: [] },
    };
    this.requests.push(request);
    return request;
  }
}

/** Responses whose socket the fake destroyed on purpose. */
const droppedResponses = new WeakSet<ServerResponse>();

async function streamReply(
  res: ServerResponse,
  script: FakeReply,
  request: RecordedRequest,
  gone: AbortSignal,
): Promise<void> {
  const chunks = chunksOf(script, request);
  const model = script.model ?? request.body.model ?? 'fake-model';
  // Each frame is flushed before the next step, so a drop or stall comes after what was sent.
  const frame = (fields: object) =>
    new Promise<void>((resolve) => {
      const chunk = {
        id: 'chatcmpl-fake',
        object: 'chat.completion.chunk',
        created: 0,
        model,
        ...fields,
      };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`, () => resolve());
    });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();

  for (let sent = 0; sent <= chunks.length; sent++) {
    if (gone.aborted) return;
    if (sent === script.stallAfterChunks) return stall(gone);
    if (sent === script.dropAfterChunks) return drop(res);
    if (sent === chunks.length) break;
    const delay = sent === 0 ? script.firstTokenDelayMs : script.tokenDelayMs;
    // No timer without a delay: a timer costs at least 1 ms per chunk, which benchmarks would notice.
    if (delay) await sleep(delay, undefined, { signal: gone });
    const content = chunks[sent];
    request.timing.chunks.push({ text: content, at: performance.now() });
    await frame({
      choices: [
        {
          index: 0,
          delta: sent === 0 ? { role: 'assistant', content } : { content },
          finish_reason: null,
        },
      ],
    });
  }
  await frame({ choices: [{ index: 0, delta: {}, finish_reason: script.finishReason ?? 'stop' }] });
  const usage = usageOf(script, request, chunks);
  if (usage && request.body.stream_options?.include_usage) await frame({ choices: [], usage });
  res.end('data: [DONE]\n\n');
}

async function sendCompletion(
  res: ServerResponse,
  script: FakeReply,
  request: RecordedRequest,
  gone: AbortSignal,
): Promise<void> {
  if (script.stallAfterChunks !== undefined) return stall(gone);
  if (script.dropAfterChunks !== undefined) return drop(res);
  if (script.firstTokenDelayMs) await sleep(script.firstTokenDelayMs, undefined, { signal: gone });
  const chunks = chunksOf(script, request);
  const usage = usageOf(script, request, chunks);
  sendJson(res, 200, {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 0,
    model: script.model ?? request.body.model ?? 'fake-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: chunks.join('') },
        finish_reason: script.finishReason ?? 'stop',
      },
    ],
    ...(usage && { usage }),
  });
}

function sendError(res: ServerResponse, script: FakeHttpError): void {
  const headers: Record<string, string> = {};
  if (script.retryAfter !== undefined) headers['retry-after'] = String(script.retryAfter);
  if (script.retryAfterMs !== undefined) headers['retry-after-ms'] = String(script.retryAfterMs);
  const defaults = errorDefaults(script.status);
  const error = {
    message: script.message ?? defaults.message,
    type: script.type ?? defaults.type,
    param: null,
    code: script.code !== undefined ? script.code : defaults.code,
  };
  sendJson(res, script.status, { error }, headers);
}

/** What OpenAI answers for such a status. */
function errorDefaults(status: number): { message: string; type: string; code: string | null } {
  if (status === 429) {
    return {
      message: 'Rate limit reached for requests',
      type: 'requests',
      code: 'rate_limit_exceeded',
    };
  }
  if (status >= 500)
    return { message: 'The server had an error', type: 'server_error', code: null };
  return { message: 'Invalid request', type: 'invalid_request_error', code: null };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Keeps the response open and silent until the client leaves or the fake stops. */
async function stall(gone: AbortSignal): Promise<void> {
  if (!gone.aborted) await once(gone, 'abort');
}

function drop(res: ServerResponse): void {
  droppedResponses.add(res);
  res.socket?.destroy();
}

function chunksOf(script: FakeReply, request: RecordedRequest): string[] {
  if (script.chunks) return script.chunks;
  const text = script.text ?? echo(request);
  if (script.chunkSize) {
    const size = script.chunkSize;
    return Array.from({ length: Math.ceil(text.length / size) }, (_, i) =>
      text.slice(i * size, (i + 1) * size),
    );
  }
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

function echo(request: RecordedRequest): string {
  const lastUser = request.messages.filter((m) => m.role === 'user').at(-1);
  return `You said: ${lastUser?.content ?? '(nothing)'}`;
}

function usageOf(script: FakeReply, request: RecordedRequest, chunks: string[]) {
  if (script.usage === false) return undefined;
  const counts =
    typeof script.usage === 'object'
      ? script.usage
      : {
          prompt_tokens: Math.ceil(request.messages.reduce((n, m) => n + m.content.length, 0) / 4),
          completion_tokens: chunks.length,
        };
  return { ...counts, total_tokens: counts.prompt_tokens + counts.completion_tokens };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let raw = '';
  req.setEncoding('utf8');
  for await (const part of req) raw += part;
  return raw;
}
