import { Injectable } from '@nestjs/common';
import {
  abortSchema,
  conversationRefSchema,
  refreshTokenSchema,
  resumeSchema,
  sendMessageSchema,
  typingSchema,
  type Ack,
} from '@charla/contracts';
import { JwtVerifier } from '../auth/jwt.verifier';
import { AppError } from '../common/app.error';
import { parseOrThrow } from '../common/zod-validation.pipe';
import type { ChatConnection } from './chat.connection';
import { ChatService } from './chat.service';
import { toWireError } from './wire-error';

/** What a request produced: the ack to send (null: the event takes none) and work to do after it. */
export interface Handled {
  ack: Ack<object> | null;
  afterAck?: () => void;
}

type Handler = (
  connection: ChatConnection,
  data: unknown,
) => Promise<{ result: object | null; afterAck?: () => void }>;

/**
 * Every client → server event of SPEC §4, validated with the contract's schemas and run through
 * ChatService. Both gateways call `handle`, so the two transports cannot drift apart.
 */
@Injectable()
export class ChatRequests {
  private readonly handlers: Record<string, Handler> = {
    'chat:send': async (c, data) => {
      const { ack, start } = await this.chat.send(c.user, parseOrThrow(sendMessageSchema, data));
      // The generation is not the socket's: it runs on (and reports through events) if the socket goes.
      return { result: ack, afterAck: start && (() => void start()) };
    },
    'chat:abort': async (c, data) => ({
      result: await this.chat.abort(c.user, parseOrThrow(abortSchema, data).replyId),
    }),
    'chat:resume': async (c, data) => {
      const { replay, ...result } = await this.chat.resume(
        c.user,
        c,
        parseOrThrow(resumeSchema, data),
      );
      return { result, afterAck: replay };
    },
    'conversation:join': async (c, data) => {
      await this.chat.join(c, parseOrThrow(conversationRefSchema, data).conversationId);
      return { result: {} };
    },
    'conversation:leave': async (c, data) => {
      this.chat.leave(c, parseOrThrow(conversationRefSchema, data).conversationId);
      return { result: {} };
    },
    typing: async (c, data) => {
      await this.chat.typing(c, parseOrThrow(typingSchema, data));
      return { result: null };
    },
    'auth:refresh': async (c, data) => {
      const user = this.verifier.verify(parseOrThrow(refreshTokenSchema, data).token);
      if (user.id !== c.user.id)
        throw new AppError('forbidden', 'A refreshed token must be for the same user (sub)');
      c.refresh(user);
      return {
        result: { expiresAt: user.expiresAt ? new Date(user.expiresAt).toISOString() : null },
      };
    },
  };

  constructor(
    private readonly chat: ChatService,
    private readonly verifier: JwtVerifier,
  ) {}

  /** Never rejects: failures become `{ ok: false, error }` with a stable code. */
  async handle(connection: ChatConnection, event: string, data: unknown): Promise<Handled> {
    const handler = Object.hasOwn(this.handlers, event) ? this.handlers[event] : undefined;
    if (!handler) return { ack: fail(new AppError('bad_request', `Unknown event "${event}"`)) };
    try {
      const { result, afterAck } = await handler(connection, data);
      return { ack: result === null ? null : { ok: true, ...result }, afterAck };
    } catch (err) {
      return { ack: fail(err) };
    }
  }
}

function fail(err: unknown): Ack<object> {
  return { ok: false, error: toWireError(err) };
}
