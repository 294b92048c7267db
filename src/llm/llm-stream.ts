import type { LlmResult, LlmStream } from './llm.provider';

/**
 * A generation as drivers write it: yields deltas, returns the result, throws `LlmStreamError`.
 * Once `signal` aborts it must stop promptly, yield nothing more, and return finishReason 'aborted'.
 */
export type Generation = (signal: AbortSignal) => AsyncGenerator<string, LlmResult, undefined>;

/**
 * Adapts a generation to the `LlmStream` port. Aborting is the one way a generation stops early:
 * when the caller's signal fires, or when the consumer leaves its loop (then this aborts the
 * generation and drains it, so the result still says what was produced and consumed).
 */
export function createLlmStream(
  callerSignal: AbortSignal | undefined,
  generation: Generation,
): LlmStream {
  return new GenerationStream(callerSignal, generation);
}

class GenerationStream implements LlmStream {
  readonly result: Promise<LlmResult>;
  private resolve!: (result: LlmResult) => void;
  private reject!: (error: unknown) => void;
  private started = false;

  constructor(
    private readonly callerSignal: AbortSignal | undefined,
    private readonly generation: Generation,
  ) {
    this.result = new Promise<LlmResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The iterator already throws the error; callers that never read `result` must not crash the process.
    this.result.catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    if (this.started) throw new Error('an LlmStream can be iterated only once');
    this.started = true;
    const controller = new AbortController();
    const unlink = forwardAbort(this.callerSignal, controller);
    const generator = this.generation(controller.signal);
    let settled = false;
    try {
      for (;;) {
        const step = await generator.next();
        if (step.done) {
          settled = true;
          this.resolve(step.value);
          return;
        }
        yield step.value;
      }
    } catch (error) {
      settled = true;
      this.reject(error);
      throw error;
    } finally {
      unlink();
      if (!settled) {
        controller.abort();
        await drain(generator).then(this.resolve, this.reject);
      }
    }
  }
}

/** Runs an aborted generation to its end; deltas it still yields were never delivered, so they are dropped. */
async function drain(generator: AsyncGenerator<string, LlmResult, undefined>): Promise<LlmResult> {
  for (;;) {
    const step = await generator.next();
    if (step.done) return step.value;
  }
}

/** Aborts `target` when `source` aborts; returns the function that undoes the link. */
export function forwardAbort(source: AbortSignal | undefined, target: AbortController): () => void {
  if (!source) return () => undefined;
  if (source.aborted) {
    target.abort(source.reason);
    return () => undefined;
  }
  const abort = () => target.abort(source.reason);
  source.addEventListener('abort', abort, { once: true });
  return () => source.removeEventListener('abort', abort);
}
