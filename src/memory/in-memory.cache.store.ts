import type { OnModuleDestroy } from '@nestjs/common';
import { CacheStore, WindowCount } from './cache.store';

interface Entry {
  value: string;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 60_000;

/** Single-process CacheStore for development and single-node installs without Redis. */
export class InMemoryCacheStore extends CacheStore implements OnModuleDestroy {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly slots = new Map<string, Map<string, number>>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : Infinity });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  async increment(key: string, windowMs: number, by = 1): Promise<WindowCount> {
    const now = Date.now();
    const entry = this.live(key) ?? { value: '0', expiresAt: now + windowMs };
    entry.value = String(Number(entry.value) + by);
    this.entries.set(key, entry);
    return { count: Number(entry.value), ttlMs: entry.expiresAt - now };
  }

  async acquireSlot(key: string, member: string, limit: number, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const held = this.slots.get(key) ?? new Map<string, number>();
    for (const [m, expiresAt] of held) if (expiresAt <= now) held.delete(m);
    if (held.size >= limit && !held.has(member)) return false;
    held.set(member, now + leaseMs);
    this.slots.set(key, held);
    return true;
  }

  async releaseSlot(key: string, member: string): Promise<void> {
    const held = this.slots.get(key);
    held?.delete(member);
    if (held?.size === 0) this.slots.delete(key);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
