import { Injectable, Logger } from '@nestjs/common';
import type { MessageStatus } from '@charla/contracts';
import type { ConversationEntity } from '../conversations/conversation.entity';
import type { MessageEntity } from '../conversations/message.entity';
import type { PromptMessage } from '../llm/llm.provider';
import {
  ConversationMemory,
  type ConversationSnapshot,
  type MemoryTurn,
  type ProfileData,
  type Recollection,
  type Reloaded,
} from '../memory/conversation-memory';
import { MemoryRepository } from './memory.repository';
import { PersonaCatalog } from './persona.catalog';
import { PromptBudget } from './prompt.budget';
import { SummaryFolder } from './summary.folder';

/** A reply as stored: where its row sits in the conversation and how it ended. */
export interface StoredReply {
  id: string;
  /** The reply row's `position` (set when its placeholder was inserted). */
  position: number;
  content: string;
  status: MessageStatus;
}

/**
 * Builds every prompt Charla sends upstream: the persona's system prompt with the user's profile,
 * the rolling summary and the message's context quoted as data, then as many recent turns as fit
 * the token budget, ending with the message being answered. Roles come from the stored role column:
 * client text is only ever a `user` turn.
 *
 * The turns and the summary come from ConversationMemory (one round trip); what it lacks is
 * reloaded from PostgreSQL in one query. Turns that no longer fit are folded into the rolling
 * summary in the background.
 */
@Injectable()
export class PromptService {
  private readonly logger = new Logger(PromptService.name);

  constructor(
    private readonly budget: PromptBudget,
    private readonly personas: PersonaCatalog,
    private readonly memory: ConversationMemory,
    private readonly repository: MemoryRepository,
    private readonly folder: SummaryFolder,
  ) {}

  async build(conversation: ConversationEntity, message: MessageEntity): Promise<PromptMessage[]> {
    const newest = this.budget.turn(message);
    const { snapshot, profile } = await this.recall(conversation, newest);
    const persona = this.personas.systemPrompt(conversation.persona);
    const prompt = this.budget.fit({
      persona,
      profile,
      context: message.context,
      summary: snapshot.summary?.text ?? null,
      // Turns stored after this message (a concurrent send) are not its history.
      history: snapshot.turns.filter((t) => t.position < newest.position),
      newest,
    });
    // Decided after the prompt is on its way: the hot path only pays for the prompt.
    setImmediate(() => this.foldIfOutgrown(conversation, snapshot, profile));
    return prompt;
  }

  /**
   * Call once a reply is stored, however it ended: adds it to the conversation's memory, then (in the
   * background) folds older turns into the summary if the conversation outgrew the budget. Await it
   * before announcing the reply, so the next message's prompt finds it. Never throws.
   */
  async afterReply(conversation: ConversationEntity, reply: StoredReply): Promise<void> {
    if (reply.content && reply.status !== 'streaming') {
      const turn = this.budget.turn({ ...reply, role: 'assistant' });
      await this.memory
        .append(conversation.id, turn)
        .catch((err: Error) => this.logger.warn(`Memory missed a reply: ${err.message}`));
    }
    void this.memory.recall(conversation.id, conversation.userId).then(
      ({ conversation: snapshot, profile }) => {
        if (snapshot && profile) this.foldIfOutgrown(conversation, snapshot, profile);
      },
      (err: Error) => this.logger.warn(`Memory unreadable after a reply: ${err.message}`),
    );
  }

  /** Memory's snapshot, or PostgreSQL's when memory lacks it (then memory is filled). */
  private async recall(
    conversation: ConversationEntity,
    newest: MemoryTurn,
  ): Promise<{ snapshot: ConversationSnapshot; profile: ProfileData }> {
    let recollection: Recollection | undefined;
    try {
      recollection = await this.memory.recall(conversation.id, conversation.userId, newest);
    } catch (err) {
      this.logger.warn(
        `Memory unreadable, prompt built from the database: ${(err as Error).message}`,
      );
    }
    if (recollection?.conversation && recollection.profile) {
      return { snapshot: recollection.conversation, profile: recollection.profile };
    }
    if (recollection?.conversation) {
      const profile = await this.repository.loadProfile(conversation.userId);
      this.fill(conversation, recollection.ticket, { profile });
      return { snapshot: recollection.conversation, profile };
    }
    const loaded = await this.repository.load(conversation.id);
    if (recollection) {
      this.fill(conversation, recollection.ticket, {
        conversation: loaded.conversation,
        profile: recollection.profile ? undefined : loaded.profile,
      });
    }
    return { snapshot: loaded.conversation, profile: recollection?.profile ?? loaded.profile };
  }

  private fill(conversation: ConversationEntity, ticket: string, reloaded: Reloaded): void {
    this.memory
      .fill(conversation.id, conversation.userId, ticket, reloaded)
      .catch((err: Error) => this.logger.warn(`Memory not filled: ${err.message}`));
  }

  private foldIfOutgrown(
    conversation: ConversationEntity,
    snapshot: ConversationSnapshot,
    profile: ProfileData,
  ): void {
    if (this.folder.outgrows(conversation, snapshot.turns, profile))
      this.folder.schedule(conversation);
  }
}
