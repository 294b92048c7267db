import { setTimeout as sleep } from 'node:timers/promises';
import { createLlmStream } from '../llm-stream';
import {
  LlmProvider,
  type LlmRequest,
  type LlmResult,
  type LlmStatus,
  type LlmStream,
  type PromptMessage,
} from '../llm.provider';
import type { Tokenizer } from '../tokenizer';

export const OFFLINE_MODEL = 'offline';
const ECHO_MAX_CHARS = 80;

/** Delay before each chunk, like a model producing a few tokens at a time. */
export interface OfflinePacing {
  minDelayMs: number;
  maxDelayMs: number;
}

/**
 * Stands in for a model when none is configured outside production, so the app and its UI can be
 * developed without a key: a short, clearly labelled reply, streamed at a model's pace.
 */
export class OfflineDriver extends LlmProvider {
  readonly name = 'offline';

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly pacing: OfflinePacing = { minDelayMs: 20, maxDelayMs: 40 },
  ) {
    super();
  }

  stream(request: LlmRequest): LlmStream {
    return createLlmStream(request.signal, (signal) => this.generate(request, signal));
  }

  status(): LlmStatus {
    return { provider: 'offline', endpoints: [] };
  }

  private async *generate(
    request: LlmRequest,
    signal: AbortSignal,
  ): AsyncGenerator<string, LlmResult, undefined> {
    let text = '';
    for (const chunk of chunksOf(offlineReply(request.messages))) {
      if (!(await this.pause(signal))) break;
      text += chunk;
      yield chunk;
    }
    return {
      text,
      model: OFFLINE_MODEL,
      finishReason: signal.aborted ? 'aborted' : 'stop',
      usage: this.tokenizer.estimateUsage(request.messages, text),
    };
  }

  /** Waits before the next chunk; false when aborted meanwhile. */
  private async pause(signal: AbortSignal): Promise<boolean> {
    const { minDelayMs, maxDelayMs } = this.pacing;
    try {
      await sleep(minDelayMs + Math.random() * (maxDelayMs - minDelayMs), undefined, { signal });
      return true;
    } catch {
      return false;
    }
  }
}

function offlineReply(messages: readonly PromptMessage[]): string {
  const label =
    "[offline] This is Charla's offline development provider: no LLM is configured, so this reply is canned.";
  const hint = 'Set OPENAI_API_KEY or OPENAI_BASE_URL to talk to a real model.';
  const said = lastUserMessage(messages);
  return said ? `${label} You said: "${excerpt(said)}". ${hint}` : `${label} ${hint}`;
}

function lastUserMessage(messages: readonly PromptMessage[]): string | undefined {
  return messages.findLast((message) => message.role === 'user')?.content.trim();
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > ECHO_MAX_CHARS ? `${oneLine.slice(0, ECHO_MAX_CHARS - 1)}…` : oneLine;
}

/** Word-sized chunks with their leading space, as models stream them. */
function chunksOf(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}
