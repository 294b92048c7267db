import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { PubSub } from '../memory/pub-sub';
import { MetricsService } from '../metrics/metrics.service';
import type { ChatConnection, EventData, ServerEvent } from './chat.connection';

const CHANNEL = 'charla:chat:events';

/** Who receives a conversation's events: its owner's sockets and the sockets that joined it. */
export interface Audience {
  userId: string;
  conversationId: string;
}

interface Envelope {
  audience: Audience;
  event: ServerEvent;
  data: unknown;
  /** A connection that must not get its own event back (a relayed `typing`). */
  except?: string;
}

/**
 * The sockets connected to this node, by user and by joined conversation, and the one channel
 * every node publishes chat events on. Both gateways register their sockets here, so Socket.IO and
 * plain-WebSocket clients get the same events from a generation running on any node. An event is
 * delivered to this node's sockets at once and published for the other nodes; a node skips what it
 * published itself, so the local path never waits for a Redis round trip.
 */
@Injectable()
export class ChatHub implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChatHub.name);
  private readonly byUser = new Map<string, Set<ChatConnection>>();
  private readonly byConversation = new Map<string, Set<ChatConnection>>();
  /** Prefixes this node's publishes, so that it can drop them unparsed when they come back. */
  private readonly origin = `${randomUUID()}|`;
  private unsubscribe?: () => Promise<void>;

  constructor(
    private readonly pubsub: PubSub,
    metrics: MetricsService,
  ) {
    metrics.track(
      'charla_connected_sockets',
      'Authenticated sockets on this node (both transports)',
      () => this.connectionCount,
    );
  }

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.pubsub.subscribe(CHANNEL, (message) => {
      if (message.startsWith(this.origin)) return;
      this.deliver(JSON.parse(message.slice(message.indexOf('|') + 1)));
    });
  }

  /** After shutdown's drain: events of the last replies must still flow. */
  async onApplicationShutdown(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
  }

  get connectionCount(): number {
    let count = 0;
    for (const set of this.byUser.values()) count += set.size;
    return count;
  }

  /** Open sockets of a user on this node. */
  connectionsOf(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  add(connection: ChatConnection): void {
    addTo(this.byUser, connection.user.id, connection);
  }

  remove(connection: ChatConnection): void {
    removeFrom(this.byUser, connection.user.id, connection);
    for (const conversationId of connection.joined)
      removeFrom(this.byConversation, conversationId, connection);
    connection.dispose();
  }

  join(connection: ChatConnection, conversationId: string): void {
    connection.joined.add(conversationId);
    addTo(this.byConversation, conversationId, connection);
  }

  leave(connection: ChatConnection, conversationId: string): void {
    connection.joined.delete(conversationId);
    removeFrom(this.byConversation, conversationId, connection);
  }

  /** Sends an event to its audience on every node. Never throws: an event lost between nodes is logged, the stream goes on. */
  broadcast<E extends ServerEvent>(
    audience: Audience,
    event: E,
    data: EventData<E>,
    except?: ChatConnection,
  ): void {
    const envelope: Envelope = { audience, event, data, except: except?.id };
    this.deliver(envelope);
    this.pubsub.publish(CHANNEL, this.origin + JSON.stringify(envelope)).catch((err: Error) => {
      this.logger.error(`Could not publish ${event}: ${err.message}`);
    });
  }

  private deliver({ audience, event, data, except }: Envelope): void {
    const targets = new Set([
      ...(this.byUser.get(audience.userId) ?? []),
      ...(this.byConversation.get(audience.conversationId) ?? []),
    ]);
    for (const connection of targets) {
      if (connection.id !== except) connection.emit(event, data as EventData<typeof event>);
    }
  }
}

function addTo<K>(map: Map<K, Set<ChatConnection>>, key: K, connection: ChatConnection): void {
  const set = map.get(key) ?? new Set();
  set.add(connection);
  map.set(key, set);
}

function removeFrom<K>(map: Map<K, Set<ChatConnection>>, key: K, connection: ChatConnection): void {
  const set = map.get(key);
  set?.delete(connection);
  if (set?.size === 0) map.delete(key);
}
