import { createLlmProvider } from '../../src/llm/llm.module';
import type { LlmProvider } from '../../src/llm/llm.provider';
import { Tokenizer } from '../../src/llm/tokenizer';
import { FakeLlm } from '../support/fake-llm';
import { llmConfig, PROMPT, readStream } from './llm.fixtures';

/** Two fake endpoints, 'endpoint-1' (primary) then 'fallback-1': retries, failover, circuit breakers. */
describe('failover across OpenAI-compatible endpoints', () => {
  let primary: FakeLlm;
  let fallback: FakeLlm;

  beforeEach(async () => {
    primary = await new FakeLlm({ text: 'from the primary' }).start();
    fallback = await new FakeLlm({ text: 'from the fallback' }).start();
  });
  afterEach(() => Promise.all([primary.stop(), fallback.stop()]));

  function provider(env: Record<string, string> = {}): LlmProvider {
    return createLlmProvider(llmConfig([primary.url, fallback.url], env), new Tokenizer());
  }

  async function replyText(llm: LlmProvider): Promise<string | undefined> {
    const { result, error } = await readStream(llm.stream({ messages: PROMPT }));
    if (error) throw error;
    return result?.text;
  }

  it('retries a 429 and a 500 on the same endpoint, waiting as long as retry-after asks', async () => {
    primary.enqueue({ status: 429, retryAfterMs: 150 }, { status: 500 });

    expect(await replyText(provider({ LLM_MAX_RETRIES: '2' }))).toBe('from the primary');

    const [rateLimited, failed, answered] = primary.requests;
    expect(failed.receivedAt - rateLimited.receivedAt).toBeGreaterThanOrEqual(145);
    expect(answered).toBeDefined();
    expect(fallback.requests).toHaveLength(0);
  });

  it('fails over to the next endpoint once the retries are spent', async () => {
    primary.setDefault({ status: 503 });

    expect(await replyText(provider({ LLM_MAX_RETRIES: '2' }))).toBe('from the fallback');

    expect(primary.requests).toHaveLength(3);
    expect(fallback.requests).toHaveLength(1);
  });

  it('does not wait out a long retry-after: it fails over at once', async () => {
    primary.enqueue({ status: 429, retryAfter: 60 });
    const startedAt = Date.now();

    expect(await replyText(provider({ LLM_MAX_RETRIES: '2' }))).toBe('from the fallback');

    expect(primary.requests).toHaveLength(1);
    expect(Date.now() - startedAt).toBeLessThan(1000);
  });

  it('fails over when the first token is late, closing the slow request', async () => {
    primary.enqueue({ text: 'too late', firstTokenDelayMs: 5000 });

    expect(await replyText(provider({ LLM_FIRST_TOKEN_TIMEOUT_MS: '200' }))).toBe(
      'from the fallback',
    );

    expect((await primary.waitForEnd(primary.requests[0], 1000)).how).toBe('client-closed');
    expect(primary.requests).toHaveLength(1);
  });

  it('opens the circuit after repeated failures, skips the endpoint, then probes it when half-open', async () => {
    primary.setDefault({ status: 500 });
    const llm = provider({
      LLM_MAX_RETRIES: '0',
      LLM_BREAKER_THRESHOLD: '2',
      LLM_BREAKER_HALF_OPEN_MS: '300',
    });

    expect(await replyText(llm)).toBe('from the fallback');
    expect(llm.status().endpoints[0].circuit).toBe('closed');
    expect(await replyText(llm)).toBe('from the fallback');
    expect(llm.status().endpoints[0].circuit).toBe('open');
    expect(primary.requests).toHaveLength(2);

    expect(await replyText(llm)).toBe('from the fallback');
    expect(primary.requests).toHaveLength(2);

    primary.setDefault({ text: 'primary is back' });
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await replyText(llm)).toBe('primary is back');
    expect(primary.requests).toHaveLength(3);
    expect(llm.status()).toEqual({
      provider: 'openai',
      endpoints: [
        { name: 'endpoint-1', model: 'fake-model', circuit: 'closed' },
        { name: 'fallback-1', model: 'fake-model', circuit: 'closed' },
      ],
    });
  });

  it('answers upstream_unavailable, without sending anything, when every circuit is open', async () => {
    primary.setDefault({ status: 500 });
    fallback.setDefault({ status: 500 });
    const llm = provider({
      LLM_MAX_RETRIES: '0',
      LLM_BREAKER_THRESHOLD: '1',
      LLM_BREAKER_HALF_OPEN_MS: '5000',
    });

    const first = await readStream(llm.stream({ messages: PROMPT }));
    // Both endpoints answered: the last one's own error says more than "unavailable".
    expect(first.error).toMatchObject({
      code: 'upstream_error',
      details: { type: 'server_error' },
    });

    const second = await readStream(llm.stream({ messages: PROMPT }));
    expect(second.error).toMatchObject({
      code: 'upstream_unavailable',
      httpStatus: 503,
      retryAfter: 5,
    });
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(1);
  });

  it('never retries nor fails over after the first token: the failure reaches the caller', async () => {
    primary.enqueue({ text: 'one two three four', dropAfterChunks: 2 });

    const { deltas, error } = await readStream(
      provider({ LLM_MAX_RETRIES: '2' }).stream({ messages: PROMPT }),
    );

    expect(deltas).toEqual(['one', ' two']);
    expect(error).toMatchObject({ code: 'upstream_error', partial: { text: 'one two' } });
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(0);
  });

  it('ends at once when the caller aborts while a retry is waiting, and sends nothing more', async () => {
    primary.enqueue({ status: 429, retryAfterMs: 1000 });
    const controller = new AbortController();
    const stream = provider().stream({ messages: PROMPT, signal: controller.signal });
    const reading = readStream(stream);

    await primary.waitForRequests(1);
    const abortedAt = Date.now();
    controller.abort();
    const { deltas, result } = await reading;

    expect(Date.now() - abortedAt).toBeLessThan(200);
    expect(deltas).toEqual([]);
    expect(result).toMatchObject({ text: '', finishReason: 'aborted' });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(0);
  });
});
