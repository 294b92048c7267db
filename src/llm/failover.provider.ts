import { isBrokenCircuitError } from 'cockatiel';
import type { OpenAiDriver } from './drivers/openai.driver';
import { EndpointPolicy, type EndpointPolicySettings } from './endpoint.policy';
import { createLlmStream } from './llm-stream';
import {
  LlmProvider,
  LlmStreamError,
  type LlmRequest,
  type LlmResult,
  type LlmStatus,
  type LlmStream,
  type TokenUsage,
} from './llm.provider';
import type { Tokenizer } from './tokenizer';

interface Route {
  driver: OpenAiDriver;
  policy: EndpointPolicy;
}

/** A driver's stream whose first step (a delta, or its end) has arrived. */
interface OpenedStream {
  stream: LlmStream;
  iterator: AsyncIterator<string>;
  first: IteratorResult<string>;
}

/**
 * The OpenAI-compatible endpoints in their configured order. Until the first delta, a failing
 * endpoint is retried (transient failures, per its policy) and then left for the next one; once a
 * delta has been yielded the stream is committed to its endpoint and a failure ends it.
 *
 * When no endpoint produces a delta, the error is the last one an endpoint actually gave (its
 * rate limit, timeout or rejection says more than a generic "unavailable"); `upstream_unavailable`
 * only when every circuit was open and no request was sent. Usage covers the request whose answer
 * (or error) is returned; failed attempts before it are not counted, as providers do not bill them.
 * A caller's abort before the first token counts the prompt as sent.
 */
export class FailoverProvider extends LlmProvider {
  readonly name = 'openai';
  private readonly routes: Route[];

  constructor(
    drivers: OpenAiDriver[],
    private readonly settings: EndpointPolicySettings,
    private readonly tokenizer: Tokenizer,
  ) {
    super();
    if (!drivers.length) throw new Error('FailoverProvider needs at least one endpoint');
    this.routes = drivers.map((driver) => ({ driver, policy: new EndpointPolicy(settings) }));
  }

  stream(request: LlmRequest): LlmStream {
    return createLlmStream(request.signal, (signal) => this.generate(request, signal));
  }

  status(): LlmStatus {
    return {
      provider: 'openai',
      endpoints: this.routes.map(({ driver, policy }) => ({
        name: driver.endpoint.name,
        model: driver.endpoint.model,
        circuit: policy.circuit,
      })),
    };
  }

  private async *generate(
    request: LlmRequest,
    signal: AbortSignal,
  ): AsyncGenerator<string, LlmResult, undefined> {
    const opened = await this.open(request, signal);
    // Aborted before any endpoint produced a first step.
    if (!('iterator' in opened)) return opened;
    const { stream, iterator } = opened;
    for (let step = opened.first; !step.done; step = await iterator.next()) yield step.value;
    return stream.result;
  }

  /**
   * Tries each endpoint in turn until one yields its first step. If the caller aborts meanwhile, the
   * generation ends at once, accounted as a prompt sent with nothing streamed back.
   */
  private async open(request: LlmRequest, signal: AbortSignal): Promise<OpenedStream | LlmResult> {
    let lastError: unknown;
    for (const { driver, policy } of this.routes) {
      const attempt = policy.execute(async () => {
        try {
          return await firstStep(driver.stream({ ...request, signal }));
        } catch (error) {
          lastError = error;
          throw error;
        }
      });
      try {
        const opened = await unlessAborted(attempt, signal);
        if (opened) return opened;
        const promptOnly = this.tokenizer.estimateUsage(request.messages, '');
        return this.emptyResult(driver, 'aborted', promptOnly);
      } catch (error) {
        if (!(error instanceof LlmStreamError) && !isBrokenCircuitError(error)) throw error;
      }
    }
    throw lastError ?? this.allCircuitsOpen();
  }

  private allCircuitsOpen(): LlmStreamError {
    const nothing = { promptTokens: 0, completionTokens: 0, totalTokens: 0, estimated: true };
    return new LlmStreamError(
      'upstream_unavailable',
      'No language model endpoint is available right now',
      { type: 'circuit_open', originalMessage: 'every endpoint failed recently and is resting' },
      this.emptyResult(this.routes[0].driver, 'error', nothing),
      { retryAfterMs: this.settings.breakerHalfOpenMs },
    );
  }

  private emptyResult(driver: OpenAiDriver, finishReason: string, usage: TokenUsage): LlmResult {
    return { text: '', model: driver.endpoint.model, finishReason, usage };
  }
}

async function firstStep(stream: LlmStream): Promise<OpenedStream> {
  const iterator = stream[Symbol.asyncIterator]();
  return { stream, iterator, first: await iterator.next() };
}

/**
 * Waits for the attempt, but returns undefined as soon as the caller aborts: a retry may be sleeping
 * in its backoff. The attempt then runs on with the aborted signal, so it sends nothing more; if it
 * had already opened a stream, that stream is closed.
 */
async function unlessAborted(
  attempt: Promise<OpenedStream>,
  signal: AbortSignal,
): Promise<OpenedStream | undefined> {
  let stopWaiting = (): void => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    stopWaiting = () => resolve(undefined);
  });
  if (signal.aborted) stopWaiting();
  signal.addEventListener('abort', stopWaiting, { once: true });
  try {
    const opened = await Promise.race([attempt, aborted]);
    if (!opened) void closeOnceOpened(attempt);
    return opened;
  } finally {
    signal.removeEventListener('abort', stopWaiting);
  }
}

/** Closes the stream of an attempt nobody waits for any more, if it opens one. */
async function closeOnceOpened(attempt: Promise<OpenedStream>): Promise<void> {
  try {
    await (await attempt).iterator.return?.();
  } catch {
    // A failed attempt has nothing left open.
  }
}
