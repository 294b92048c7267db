/**
 * Throttles upstream deltas into outgoing ones: a delta that arrives after a quiet window goes out
 * at once (so the first token is never held back), and what arrives within `windowMs` of the last
 * send is joined and sent when the window closes, or as soon as `maxChars` are pending. Fewer events
 * and Redis publishes per token, no token held longer than the window, same text. An outgoing delta
 * is longer than `maxChars` only when a single upstream delta was.
 * A window of 0 sends every upstream delta as it comes.
 */
export class DeltaCoalescer {
  private pending = '';
  private window?: NodeJS.Timeout;

  constructor(
    private readonly windowMs: number,
    private readonly maxChars: number,
    private readonly send: (text: string) => void,
  ) {}

  push(text: string): void {
    if (!text) return;
    // What is pending goes out first if this delta would take it past the cap.
    if (this.pending && this.pending.length + text.length > this.maxChars) this.sendPending();
    this.pending += text;
    if (!this.window || this.pending.length >= this.maxChars) this.sendPending();
  }

  /** Sends whatever is pending now (at the end of a stream, or before an error is reported). */
  flush(): void {
    clearTimeout(this.window);
    this.window = undefined;
    if (this.pending) this.sendPending(false);
  }

  private sendPending(openWindow = this.windowMs > 0): void {
    const text = this.pending;
    this.pending = '';
    clearTimeout(this.window);
    this.window = openWindow ? setTimeout(() => this.closeWindow(), this.windowMs) : undefined;
    this.send(text);
  }

  /** A window with nothing pending ends quietly; otherwise its text goes out and a new one opens. */
  private closeWindow(): void {
    this.window = undefined;
    if (this.pending) this.sendPending();
  }
}
