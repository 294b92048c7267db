import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import type { PromptMessage } from '../llm/llm.provider';
import { Tokenizer } from '../llm/tokenizer';
import type { MemoryTurn, ProfileData } from '../memory/conversation-memory';
import { quoted } from './quoted-data';

/** The parts a prompt is made of; `history` is the turns before `newest`, oldest first. */
export interface PromptParts {
  persona: string;
  profile: ProfileData;
  /** The per-message context the app sent with `newest`. */
  context: unknown;
  summary: string | null;
  history: readonly MemoryTurn[];
  newest: MemoryTurn;
}

/** A message that can become a prompt turn. */
export interface TurnSource {
  id: string;
  position: number;
  role: string;
  content: string;
}

const LABELS = {
  profile: 'Profile of the user',
  summary: 'Summary of the earlier conversation',
  context: 'Context the app sent with this message',
};

/** The rolling summary is kept to this share of the prompt budget, within these bounds. */
const SUMMARY_SHARE = 0.25;
const SUMMARY_MIN_TOKENS = 32;
const SUMMARY_MAX_TOKENS = 1024;
/** JSON-quoting a summary (escaped quotes, newlines) makes it a little longer than the text. */
const QUOTING_SLACK = 1.1;

/**
 * The token budget of a prompt: LLM_CONTEXT_TOKENS minus LLM_MAX_OUTPUT_TOKENS (the room kept for the
 * answer), counted with the Tokenizer the LLM layer uses. Costs are exact: a prompt's count is the
 * system message's count plus each turn's `tokens`.
 */
@Injectable()
export class PromptBudget {
  /** Tokens a prompt may use. */
  readonly promptTokens: number;
  /** Longest rolling summary, in tokens. */
  readonly summaryTokens: number;

  constructor(
    config: AppConfig,
    private readonly tokenizer: Tokenizer,
  ) {
    this.promptTokens = config.llm.contextTokens - config.llm.maxOutputTokens;
    this.summaryTokens = Math.round(
      Math.min(SUMMARY_MAX_TOKENS, Math.max(SUMMARY_MIN_TOKENS, this.promptTokens * SUMMARY_SHARE)),
    );
  }

  /** A stored message as a turn, with what it costs in a prompt. Its role is the stored one. */
  turn(message: TurnSource): MemoryTurn {
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    return {
      id: message.id,
      position: message.position,
      role,
      content: message.content,
      tokens: this.tokenizer.countMessages([{ role, content: message.content }]) - this.emptyPrompt,
    };
  }

  /**
   * The prompt: one system message (persona, then profile, summary and context quoted as data), as
   * many of the newest earlier turns as fit, and `newest`, which is always there. When the quoted
   * parts do not all fit, the profile goes first, then the summary, then the context. It exceeds the
   * budget only when the persona and `newest` alone do.
   */
  fit(parts: PromptParts): PromptMessage[] {
    const blocks = [
      parts.context == null ? null : { at: 2, text: quoted(LABELS.context, parts.context) },
      parts.summary ? { at: 1, text: quoted(LABELS.summary, parts.summary) } : null,
      isEmpty(parts.profile) ? null : { at: 0, text: quoted(LABELS.profile, parts.profile) },
    ].filter((b) => b !== null);

    let system!: PromptMessage;
    let used = 0;
    for (let kept = blocks.length; kept >= 0; kept--) {
      const texts = blocks
        .slice(0, kept)
        .sort((a, b) => a.at - b.at)
        .map((b) => b.text);
      system = { role: 'system', content: [parts.persona, ...texts].join('\n\n') };
      used = this.tokenizer.countMessages([system]) + parts.newest.tokens;
      if (used <= this.promptTokens) break;
    }

    let first = parts.history.length;
    while (first > 0 && used + parts.history[first - 1].tokens <= this.promptTokens) {
      first--;
      used += parts.history[first].tokens;
    }
    return [system, ...parts.history.slice(first).map(toMessage), toMessage(parts.newest)];
  }

  /**
   * Tokens left for turns once the persona, the profile and a full-size summary are in. A
   * conversation whose unfolded turns outgrow this has older turns to fold into its summary.
   */
  roomForTurns(persona: string, profile: ProfileData): number {
    const withProfile = isEmpty(profile)
      ? persona
      : `${persona}\n\n${quoted(LABELS.profile, profile)}`;
    const summaryFrame = this.tokenizer.count(`\n\n${quoted(LABELS.summary, '')}`);
    return (
      this.promptTokens -
      this.tokenizer.countMessages([{ role: 'system', content: withProfile }]) -
      summaryFrame -
      Math.ceil(this.summaryTokens * QUOTING_SLACK)
    );
  }

  /** What an empty prompt costs: the reply primer, which `turn` leaves out of each turn's cost. */
  private get emptyPrompt(): number {
    return this.tokenizer.countMessages([]);
  }
}

function toMessage(turn: MemoryTurn): PromptMessage {
  return { role: turn.role, content: turn.content };
}

function isEmpty(profile: ProfileData): boolean {
  return Object.keys(profile).length === 0;
}
