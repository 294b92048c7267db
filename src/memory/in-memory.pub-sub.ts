import { EventEmitter } from 'node:events';
import { MessageHandler, PubSub } from './pub-sub';

/** Single-process PubSub: delivery is asynchronous, like Redis, so callers never depend on re-entrancy. */
export class InMemoryPubSub extends PubSub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, message: string): Promise<void> {
    queueMicrotask(() => this.emitter.emit(channel, message));
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    this.emitter.on(channel, handler);
    return async () => {
      this.emitter.off(channel, handler);
    };
  }
}
