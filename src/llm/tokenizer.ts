import { Injectable } from '@nestjs/common';
import { countTokens } from 'gpt-tokenizer';
import type { PromptMessage, TokenUsage } from './llm.provider';

/**
 * Users may type text like `<|endoftext|>`: count it as the plain text it is (the API does the same),
 * instead of letting the tokenizer throw on a "disallowed special token".
 */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Framing tokens of the chat format: each message is wrapped, and the reply is primed (OpenAI cookbook). */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_TO_PRIME_REPLY = 3;

/**
 * Counts tokens with o200k_base, the encoding of current OpenAI models. For other models (Llama,
 * Mistral, …) it is an estimate within a few percent, which is what budgets and usage fallbacks need.
 */
@Injectable()
export class Tokenizer {
  /** Tokens in a plain text. */
  count(text: string): number {
    return text ? countTokens(text, PLAIN_TEXT) : 0;
  }

  /** Tokens a prompt costs, including the chat format's per-message framing. */
  countMessages(messages: readonly PromptMessage[]): number {
    let total = TOKENS_TO_PRIME_REPLY;
    for (const message of messages) {
      total += TOKENS_PER_MESSAGE + this.count(message.role) + this.count(message.content);
    }
    return total;
  }

  /** Usage counted locally, for when the provider did not report it. */
  estimateUsage(messages: readonly PromptMessage[], completion: string): TokenUsage {
    const promptTokens = this.countMessages(messages);
    const completionTokens = this.count(completion);
    return {
      promptTokens,
      completionTokens,
      totalTokens: promptTokens + completionTokens,
      estimated: true,
    };
  }
}
