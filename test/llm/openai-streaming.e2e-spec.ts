import { createLlmProvider } from '../../src/llm/llm.module';
import { LlmStreamError, type LlmProvider } from '../../src/llm/llm.provider';
import { Tokenizer } from '../../src/llm/tokenizer';
import { FakeLlm } from '../support/fake-llm';
import { llmConfig, PROMPT, readStream } from './llm.fixtures';

/** One OpenAI-compatible endpoint over real HTTP: streaming, usage, abort, timeouts, errors. */
describe('OpenAI-compatible endpoint', () => {
  const tokenizer = new Tokenizer();
  let fake: FakeLlm;

  beforeEach(async () => {
    fake = await new FakeLlm().start();
  });
  afterEach(() => fake.stop());

  function provider(env: Record<string, string> = {}): LlmProvider {
    return createLlmProvider(llmConfig([fake.url], env), tokenizer);
  }

  it('streams the reply delta by delta, with the usage the provider reported', async () => {
    const chunks = ['Hel', 'lo, ', 'wor', 'ld!'];
    fake.enqueue({ chunks, tokenDelayMs: 40, usage: { prompt_tokens: 21, completion_tokens: 4 } });

    const { deltas, arrivals, result } = await readStream(provider().stream({ messages: PROMPT }));

    expect(deltas).toEqual(chunks);
    // Each delta is handed over as it arrives, not buffered until the end.
    expect(arrivals[3] - arrivals[0]).toBeGreaterThanOrEqual(100);
    expect(result).toEqual({
      text: 'Hello, world!',
      model: 'fake-model',
      finishReason: 'stop',
      usage: { promptTokens: 21, completionTokens: 4, totalTokens: 25, estimated: false },
    });
  });

  it('sends the prompt, model, output cap, usage request and key of its endpoint', async () => {
    await readStream(provider({ LLM_MAX_OUTPUT_TOKENS: '77' }).stream({ messages: PROMPT }));

    const [request] = fake.requests;
    expect(request.body).toMatchObject({
      model: 'fake-model',
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 77,
    });
    expect(request.headers.authorization).toBe('Bearer test-key');
  });

  it('estimates usage with the tokenizer when the server never reports it', async () => {
    const text = 'Hello there! The weather in Buenos Aires is lovely today.';
    fake.enqueue({ text, usage: false });

    const { result } = await readStream(provider().stream({ messages: PROMPT }));

    expect(result?.text).toBe(text);
    expect(result?.usage).toEqual({
      promptTokens: tokenizer.countMessages(PROMPT),
      completionTokens: tokenizer.count(text),
      totalTokens: tokenizer.countMessages(PROMPT) + tokenizer.count(text),
      estimated: true,
    });
    expect(result?.usage.completionTokens).toBeGreaterThanOrEqual(10);
    expect(result?.usage.promptTokens).toBeGreaterThanOrEqual(15);
  });

  it('closes the upstream request within 1 s when the caller aborts, and reports partial usage', async () => {
    fake.enqueue({ text: 'one two three four five six seven eight nine ten', tokenDelayMs: 50 });
    const controller = new AbortController();
    let abortedAt = 0;

    const { deltas, result, error } = await readStream(
      provider().stream({ messages: PROMPT, signal: controller.signal }),
      (_delta, index) => {
        if (index === 2) {
          abortedAt = Date.now();
          controller.abort();
        }
      },
    );

    expect(error).toBeUndefined();
    expect(deltas).toEqual(['one', ' two', ' three']);
    expect(result).toMatchObject({ text: 'one two three', finishReason: 'aborted' });
    expect(result?.usage).toMatchObject({
      completionTokens: tokenizer.count('one two three'),
      estimated: true,
    });
    const end = await fake.waitForEnd(fake.requests[0], 1000);
    expect(end.how).toBe('client-closed');
    expect(end.at - abortedAt).toBeLessThan(1000);
  });

  it('closes the upstream request when the caller aborts before the first token', async () => {
    fake.enqueue({ text: 'slow to start', firstTokenDelayMs: 5000 });
    const controller = new AbortController();
    const reading = readStream(provider().stream({ messages: PROMPT, signal: controller.signal }));

    const [request] = await fake.waitForRequests(1);
    const abortedAt = Date.now();
    controller.abort();
    const { deltas, result } = await reading;

    expect(deltas).toEqual([]);
    expect(result).toMatchObject({ text: '', finishReason: 'aborted' });
    expect(result?.usage).toMatchObject({
      promptTokens: tokenizer.countMessages(PROMPT),
      completionTokens: 0,
      estimated: true,
    });
    const end = await fake.waitForEnd(request, 1000);
    expect(end.how).toBe('client-closed');
    expect(end.at - abortedAt).toBeLessThan(1000);
  });

  it('treats a consumer leaving the loop early as an abort', async () => {
    fake.enqueue({ text: 'one two three four five six', tokenDelayMs: 50 });
    const stream = provider().stream({ messages: PROMPT });

    const { deltas, result } = await readStream(stream, (_delta, index) =>
      index === 1 ? 'stop' : undefined,
    );

    expect(deltas).toEqual(['one', ' two']);
    expect(result).toMatchObject({ text: 'one two', finishReason: 'aborted' });
    expect((await fake.waitForEnd(fake.requests[0], 1000)).how).toBe('client-closed');
  });

  it('fails with upstream_timeout and closes the request when the first token is late', async () => {
    fake.enqueue({ text: 'too late', firstTokenDelayMs: 5000 });
    const startedAt = Date.now();

    const { deltas, error } = await readStream(
      provider({ LLM_FIRST_TOKEN_TIMEOUT_MS: '300' }).stream({ messages: PROMPT }),
    );

    expect(deltas).toEqual([]);
    expect(error).toBeInstanceOf(LlmStreamError);
    expect(error).toMatchObject({
      code: 'upstream_timeout',
      details: { type: 'first_token_timeout' },
    });
    expect(Date.now() - startedAt).toBeLessThan(1500);
    expect((await fake.waitForEnd(fake.requests[0], 1000)).how).toBe('client-closed');
    // A timeout is not retried on the same endpoint.
    expect(fake.requests).toHaveLength(1);
  });

  it('fails with upstream_timeout when the stream stalls, keeping what was streamed', async () => {
    fake.enqueue({ text: 'one two three four', stallAfterChunks: 2 });

    const { deltas, error } = await readStream(
      provider({ LLM_IDLE_TIMEOUT_MS: '300' }).stream({ messages: PROMPT }),
    );

    expect(deltas).toEqual(['one', ' two']);
    expect(error).toMatchObject({
      code: 'upstream_timeout',
      details: { type: 'idle_timeout' },
      partial: { text: 'one two', finishReason: 'error', usage: { estimated: true } },
    });
    expect((await fake.waitForEnd(fake.requests[0], 1000)).how).toBe('client-closed');
    expect(fake.requests).toHaveLength(1);
  });

  it('does not count time the consumer spends on a delta as upstream silence', async () => {
    fake.enqueue({ text: 'slow reader here' });

    const stream = provider({ LLM_IDLE_TIMEOUT_MS: '100' }).stream({ messages: PROMPT });
    const deltas: string[] = [];
    for await (const delta of stream) {
      deltas.push(delta);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    expect(deltas.join('')).toBe('slow reader here');
    expect((await stream.result).finishReason).toBe('stop');
  });

  it('surfaces a connection dropped mid-stream as upstream_error with the partial reply', async () => {
    fake.enqueue({ text: 'one two three four', dropAfterChunks: 2 });

    const { deltas, error } = await readStream(provider().stream({ messages: PROMPT }));

    expect(deltas).toEqual(['one', ' two']);
    expect(error).toMatchObject({
      code: 'upstream_error',
      details: { type: 'connection_error' },
      partial: { text: 'one two', finishReason: 'error' },
    });
    expect(fake.requests).toHaveLength(1);
  });

  it('maps an HTTP error to upstream_error with the provider type and message, without retrying a 400', async () => {
    fake.enqueue({
      status: 400,
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
      message: "This model's maximum context length is 8192 tokens.",
    });

    const { error } = await readStream(provider().stream({ messages: PROMPT }));

    expect(error).toMatchObject({
      code: 'upstream_error',
      details: {
        type: 'context_length_exceeded',
        originalMessage: "This model's maximum context length is 8192 tokens.",
      },
    });
    expect(fake.requests).toHaveLength(1);
  });

  it('gives up on a rate limit after its retries, with the seed error shape and retryAfter', async () => {
    fake.setDefault({ status: 429, message: 'Rate limit exceeded', retryAfter: 0 });

    const { error } = await readStream(
      provider({ LLM_MAX_RETRIES: '2' }).stream({ messages: PROMPT }),
    );

    expect(error).toMatchObject({
      code: 'upstream_error',
      httpStatus: 502,
      details: { type: 'rate_limit_exceeded', originalMessage: 'Rate limit exceeded' },
      retryAfter: 0,
    });
    expect(fake.requests).toHaveLength(3);
  });
});
