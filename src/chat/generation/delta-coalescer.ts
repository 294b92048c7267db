/**
 * Joins upstream deltas that arrive within `windowMs` of the first pending one (or until `maxChars`
 * are pending) into one outgoing delta: fewer events and Redis publishes per token, same text.
 * A window of 0 sends every upstream delta as it comes.
 */
export class DeltaCoalescer {
  private pending = '';
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly windowMs: number,
    private readonly maxChars: number,
    private readonly send: (text: string) => void,
  ) {}

  push(text: string): void {
    if (!text) return;
    this.pending += text;
    if (this.windowMs === 0 || this.pending.length >= this.maxChars) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  /** Sends whatever is pending now (at the end of a stream, or before an error is reported). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    const text = this.pending;
    this.pending = '';
    this.send(text);
  }
}
