import { Injectable, Logger } from '@nestjs/common';
import type { ChatDelta, MessageDto } from '@charla/contracts';
import { AppError } from '../../common/app.error';
import { AppConfig } from '../../config/app.config';
import type { ConversationEntity } from '../../conversations/conversation.entity';
import { toMessageDto } from '../../conversations/message.mapper';
import type { MessageEntity } from '../../conversations/message.entity';
import { MessagesRepository, type ReplyOutcome } from '../../conversations/messages.repository';
import { QuotaService, type QuotaReservation } from '../../limits/quota.service';
import { MetricsService } from '../../metrics/metrics.service';
import { LlmProvider, LlmStreamError, type LlmResult } from '../../llm/llm.provider';
import { PromptService } from '../../prompt/prompt.service';
import { Audience, ChatHub } from '../chat.hub';
import { toWireError } from '../wire-error';
import { DeltaCoalescer } from './delta-coalescer';
import { GenerationRegistry } from './generation.registry';
import { ReplyBuffer } from './reply-buffer';

export interface GenerationJob {
  conversation: ConversationEntity;
  message: MessageEntity;
  reply: MessageEntity;
  /** What the send held on the owner's daily quota; settled with the real usage at the end. */
  reservation: QuotaReservation | null;
}

/** The stored outcome of a generation, for callers that wait for it (REST). */
export type GenerationOutcome =
  { ok: true; message: MessageDto } | { ok: false; error: unknown; message?: MessageDto };

/**
 * Runs one reply from prompt to stored message: typing on, seq-numbered (coalesced) deltas to every
 * socket of the audience and to the resume buffer, one final write, chat:done or chat:error, typing off.
 */
@Injectable()
export class GenerationRunner {
  private readonly logger = new Logger(GenerationRunner.name);

  constructor(
    private readonly config: AppConfig,
    private readonly llm: LlmProvider,
    private readonly prompt: PromptService,
    private readonly messages: MessagesRepository,
    private readonly hub: ChatHub,
    private readonly buffer: ReplyBuffer,
    private readonly registry: GenerationRegistry,
    private readonly quota: QuotaService,
    private readonly metrics: MetricsService,
  ) {}

  /** Never rejects: every failure ends as a stored `failed` reply and a chat:error. */
  async run(job: GenerationJob, onDelta?: (delta: ChatDelta) => void): Promise<GenerationOutcome> {
    const { conversation, reply } = job;
    const audience: Audience = { userId: conversation.userId, conversationId: conversation.id };
    const { signal, settle } = this.registry.register(reply.id);
    const timeToFirstToken = this.metrics.timeToFirstToken.startTimer();
    let seq = 0;
    let delivered = '';
    const coalescer = new DeltaCoalescer(
      this.config.chat.coalesceMs,
      this.config.chat.coalesceMaxChars,
      (text) => {
        const delta: ChatDelta = {
          conversationId: conversation.id,
          replyId: reply.id,
          seq: ++seq,
          text,
        };
        delivered += text;
        if (seq === 1) timeToFirstToken();
        this.buffer
          .append(delta)
          .catch((err: Error) => this.logger.error(`Resume buffer append failed: ${err.message}`));
        this.hub.broadcast(audience, 'chat:delta', delta);
        onDelta?.(delta);
      },
    );

    this.typing(audience, reply.id, true);
    let finished = false;
    try {
      const stream = this.llm.stream({
        messages: await this.prompt.build(conversation, job.message),
        signal,
      });
      for await (const text of stream) coalescer.push(text);
      coalescer.flush();
      const result = await stream.result;
      const stored = await this.finish(job, seq, outcome(delivered, result, signal));
      finished = true;
      if (!stored) throw AppError.notFound('Conversation');
      await this.prompt.afterReply(conversation, { ...stored, position: reply.position });
      this.hub.broadcast(audience, 'chat:done', {
        conversationId: conversation.id,
        replyId: reply.id,
        message: stored,
      });
      return { ok: true, message: stored };
    } catch (err) {
      coalescer.flush();
      const partial = err instanceof LlmStreamError ? err.partial : undefined;
      // If even this write fails (database down), the sweeper stores the reply as interrupted later.
      const stored = finished
        ? null
        : await this.finish(job, seq, {
            content: delivered,
            status: 'failed',
            model: partial?.model ?? null,
            finishReason: 'error',
            usage: partial?.usage ?? null,
          }).catch((storeErr: Error) => {
            this.logger.error(`Failed reply could not be stored: ${storeErr.message}`);
            return null;
          });
      if (stored)
        await this.prompt.afterReply(conversation, { ...stored, position: reply.position });
      const error = toWireError(err);
      const type = (error.details as { type?: string } | undefined)?.type ?? 'none';
      this.metrics.upstreamErrors.inc({ code: error.code, type });
      this.hub.broadcast(audience, 'chat:error', {
        conversationId: conversation.id,
        replyId: reply.id,
        error,
      });
      return { ok: false, message: stored ?? undefined, error: err };
    } finally {
      this.typing(audience, reply.id, false);
      settle();
    }
  }

  /**
   * The reply's second and last write; its usage is charged to the owner's daily quota, however it
   * ended. Null when the reply was erased while it streamed (nothing is left to store it in).
   */
  private async finish(
    { conversation, reply, reservation }: GenerationJob,
    lastSeq: number,
    result: ReplyOutcome,
  ): Promise<MessageDto | null> {
    const row = await this.messages.finishReply(reply.id, result);
    this.metrics.generations.inc({ status: result.status });
    this.metrics.tokensStreamed.inc(result.usage?.completionTokens ?? 0);
    await this.quota.settle(conversation.userId, reservation, result.usage?.totalTokens ?? 0);
    if (!row) return null;
    const stored = toMessageDto(row);
    await this.buffer
      .finish(reply.id, lastSeq, stored)
      .catch((err: Error) => this.logger.error(`Resume buffer finish failed: ${err.message}`));
    return stored;
  }

  private typing(audience: Audience, replyId: string, isTyping: boolean): void {
    this.hub.broadcast(audience, 'typing', {
      conversationId: audience.conversationId,
      actor: 'assistant',
      replyId,
      isTyping,
    });
  }
}

/** A shutdown stops a reply as `interrupted`; a user's stop as `aborted`. */
function outcome(content: string, result: LlmResult, signal: AbortSignal): ReplyOutcome {
  const stopped = result.finishReason === 'aborted';
  return {
    content,
    status: stopped ? (signal.reason === 'shutdown' ? 'interrupted' : 'aborted') : 'complete',
    model: result.model,
    finishReason: result.finishReason,
    usage: result.usage,
  };
}
