import { Body, Controller, Headers, Post, Res } from '@nestjs/common';
import {
  restChatSchema,
  type ChatDelta,
  type MessageDto,
  type RestChatRequest,
  type RestChatResponse,
  type SendAck,
} from '@charla/contracts';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { AppError } from '../common/app.error';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { AppConfig } from '../config/app.config';
import { toMessageDto } from '../conversations/message.mapper';
import { ChatService, type Sent } from './chat.service';
import type { GenerationOutcome } from './generation/generation.runner';
import { toWireError } from './wire-error';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,100}$/;

/**
 * `POST /api/chat` (seed 001): one message in, the whole reply out — or, with
 * `Accept: text/event-stream`, the same chat:delta / chat:done / chat:error events as SSE.
 */
@Controller('api/chat')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly config: AppConfig,
  ) {}

  @Post()
  async send(
    @CurrentUser() user: AuthUser,
    @Body(new ZodValidationPipe(restChatSchema)) body: RestChatRequest,
    @Headers('accept') accept: string | undefined,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    if (body.userId !== undefined && body.userId !== user.id) {
      throw new AppError('forbidden', 'userId must be the authenticated user (the token sub)');
    }
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new AppError('bad_request', 'Idempotency-Key must be 1-100 visible ASCII characters');
    }
    const request = {
      clientMessageId: idempotencyKey ?? randomUUID(),
      content: body.message,
      context: Array.isArray(body.context) ? { history: body.context } : body.context,
    };
    if (accept?.includes('text/event-stream')) {
      await this.stream(user, request, body.sessionId, res);
      return;
    }
    const sent = await this.chat.send(user, request, { sessionId: body.sessionId });
    const outcome = await this.outcome(sent);
    if (!outcome.ok) throw outcome.error;
    res.status(200).json(toRestResponse(sent.ack, outcome.message));
  }

  private async stream(
    user: AuthUser,
    request: { clientMessageId: string; content: string; context?: Record<string, unknown> },
    sessionId: string | undefined,
    res: Response,
  ): Promise<void> {
    const write = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const sent = await this.chat.send(user, request, { sessionId });
    const { conversationId, replyId } = sent.ack;
    open(res);
    write('chat:ack', { ok: true, ...sent.ack });
    // A closed response stops nothing: the reply is not tied to its client and is still stored.
    const outcome = await this.outcome(sent, (delta) => write('chat:delta', delta));
    if (!outcome.ok) {
      write('chat:error', { conversationId, replyId, error: toWireError(outcome.error) });
    } else {
      write('chat:done', { conversationId, replyId, message: outcome.message });
    }
    res.end();
  }

  /** Runs the generation, or for a repeated Idempotency-Key waits for the first request's reply. */
  private async outcome(
    sent: Sent,
    onDelta?: (delta: ChatDelta) => void,
  ): Promise<GenerationOutcome> {
    if (sent.start) return sent.start(onDelta);
    const waitMs = this.config.llm.firstTokenTimeoutMs + this.config.llm.idleTimeoutMs * 10;
    return {
      ok: true,
      message: toMessageDto(await this.chat.waitForReply(sent.ack.replyId, waitMs)),
    };
  }
}

function open(res: Response): void {
  res.status(200).set({
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
}

function toRestResponse(sent: SendAck, reply: MessageDto): RestChatResponse {
  const usage = reply.usage ?? {
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    estimated: true,
  };
  return {
    reply: reply.content,
    usage: {
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      total_tokens: usage.totalTokens,
    },
    metadata: {
      model: reply.model ?? null,
      finishReason: reply.finishReason ?? null,
      timestamp: reply.createdAt,
      conversationId: sent.conversationId,
      messageId: sent.messageId,
      replyId: sent.replyId,
      status: reply.status,
      estimatedUsage: usage.estimated,
    },
  };
}
