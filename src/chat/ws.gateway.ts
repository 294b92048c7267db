import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/app.error';
import { parseOrThrow } from '../common/zod-validation.pipe';
import { AppConfig } from '../config/app.config';
import { ChatConnection } from './chat.connection';
import { ChatHub } from './chat.hub';
import { ChatRequests } from './chat.requests';
import { SocketAdmission } from './socket-admission';
import { toWireError } from './wire-error';

const PATH = '/ws';
const HEARTBEAT_MS = 30_000;
/** Close codes in the private range, so clients can tell auth failures from network ones. */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_GOING_AWAY = 1001;

const frameSchema = z.strictObject({
  type: z.string().min(1).max(64),
  data: z.unknown().optional(),
  id: z.union([z.string().max(100), z.number()]).optional(),
});
type Frame = z.infer<typeof frameSchema>;

const authFrameSchema = z.strictObject({ token: z.string().min(1).max(8192) });

/**
 * Plain WebSocket transport at `/ws`, for wscat and clients without Socket.IO. Frames are
 * `{ type, data, id? }` JSON; requests with an `id` get `{ type: 'ack', id, data }`. Bad frames get an
 * `error` frame and the connection stays open; a frame over 64 KB closes only that connection.
 */
@Injectable()
export class WsGateway implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WsGateway.name);
  private readonly wss: WebSocketServer;
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly admission: SocketAdmission,
    private readonly hub: ChatHub,
    private readonly requests: ChatRequests,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.http.bodyLimitBytes });
  }

  onApplicationBootstrap(): void {
    this.adapterHost.httpAdapter
      .getHttpServer()
      .on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (new URL(req.url ?? '/', 'http://localhost').pathname === PATH)
          this.upgrade(req, socket, head);
      });
    this.heartbeat = setInterval(() => this.checkAlive(), HEARTBEAT_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    for (const ws of this.wss.clients) ws.close(CLOSE_GOING_AWAY, 'server shutting down');
    this.wss.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams);
    this.admission.admit(req, query).then(
      (user) =>
        this.wss.handleUpgrade(req, socket, head, (ws) =>
          user ? this.accept(ws, user) : this.awaitAuthFrame(ws),
        ),
      (err: unknown) => refuseUpgrade(socket, err),
    );
  }

  /** Without an Authorization header, the first frame must be `{"type":"auth","data":{"token"}}`. */
  private awaitAuthFrame(ws: WebSocket): void {
    const timer = setTimeout(
      () => ws.close(CLOSE_UNAUTHORIZED, 'send {"type":"auth","data":{"token":"..."}} first'),
      this.config.chat.wsAuthTimeoutMs,
    );
    ws.once('message', (raw) => {
      clearTimeout(timer);
      try {
        const frame = parseFrame(raw);
        if (frame.type !== 'auth')
          throw new AppError('unauthorized', 'The first frame must be {"type":"auth"}');
        const user = this.admission.authorize(parseOrThrow(authFrameSchema, frame.data).token);
        this.accept(ws, user);
        if (frame.id !== undefined)
          send(ws, { type: 'ack', id: frame.id, data: { ok: true, userId: user.id } });
      } catch (err) {
        send(ws, { type: 'error', data: toWireError(err) });
        ws.close(CLOSE_UNAUTHORIZED, 'unauthorized');
      }
    });
    ws.on('error', () => clearTimeout(timer));
  }

  private accept(ws: WebSocket, user: AuthUser): void {
    const connection = new ChatConnection(
      {
        emit: (type, data) => send(ws, { type, data }),
        disconnect: () => ws.close(CLOSE_UNAUTHORIZED, 'auth expired'),
      },
      user,
    );
    this.hub.add(connection);
    const alive = { value: true };
    aliveness.set(ws, alive);
    ws.on('pong', () => (alive.value = true));
    ws.on('message', (raw) => void this.onFrame(ws, connection, raw));
    ws.on('close', () => this.hub.remove(connection));
    // An oversized frame: `ws` closes this connection with 1009; nothing else is affected.
    ws.on('error', (err) => this.logger.debug(`WebSocket closed on error: ${err.message}`));
  }

  private async onFrame(ws: WebSocket, connection: ChatConnection, raw: RawData): Promise<void> {
    let frame: Frame;
    try {
      frame = parseFrame(raw);
    } catch (err) {
      send(ws, { type: 'error', data: toWireError(err) });
      return;
    }
    const { ack, afterAck } = await this.requests.handle(connection, frame.type, frame.data);
    if (ack && frame.id !== undefined) send(ws, { type: 'ack', id: frame.id, data: ack });
    else if (ack && !ack.ok) send(ws, { type: 'error', data: ack.error });
    afterAck?.();
  }

  private checkAlive(): void {
    for (const ws of this.wss.clients) {
      const alive = aliveness.get(ws);
      if (alive && !alive.value) {
        ws.terminate();
        continue;
      }
      if (alive) alive.value = false;
      ws.ping();
    }
  }
}

const aliveness = new WeakMap<WebSocket, { value: boolean }>();

function parseFrame(raw: RawData): Frame {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch {
    throw new AppError(
      'bad_request',
      'Frames must be JSON: {"type":"<event>","data":{...},"id":"<optional>"}',
    );
  }
  return parseOrThrow(frameSchema, json);
}

function send(ws: WebSocket, frame: object): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}

/** Answers a refused upgrade with its HTTP status (401, 429…) and the error envelope, then closes. */
function refuseUpgrade(socket: Duplex, err: unknown): void {
  const { code, message, retryAfter } = toWireError(err);
  const status = err instanceof AppError ? err.httpStatus : 500;
  const body = JSON.stringify({
    error: message,
    code,
    ...(retryAfter !== undefined && { retryAfter }),
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
