export type MessageHandler = (message: string) => void;

/**
 * Fan-out between nodes: every node subscribed to a channel gets each message published on it.
 * Redis pub/sub when REDIS_URL is set; an in-process emitter otherwise (one node).
 */
export abstract class PubSub {
  abstract publish(channel: string, message: string): Promise<void>;
  /** Subscribes; the returned function unsubscribes this handler. */
  abstract subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
}
