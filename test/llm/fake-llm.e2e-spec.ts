import OpenAI from 'openai';
import { FakeLlm } from '../support/fake-llm';

/** The fake upstream speaks OpenAI's protocol well enough for the official SDK. */
describe('FakeLlm', () => {
  let fake: FakeLlm;
  let client: OpenAI;

  beforeEach(async () => {
    fake = await new FakeLlm().start();
    client = new OpenAI({ baseURL: fake.url, apiKey: 'test-key', maxRetries: 0 });
  });
  afterEach(() => fake.stop());

  it('answers a non-streaming request with a chat.completion JSON body', async () => {
    fake.enqueue({ text: 'A whole answer.', usage: { prompt_tokens: 9, completion_tokens: 4 } });

    const completion = await client.chat.completions.create({
      model: 'some-model',
      messages: [{ role: 'user', content: 'Hi' }],
    });

    expect(completion.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'A whole answer.' },
      finish_reason: 'stop',
    });
    expect(completion.model).toBe('some-model');
    expect(completion.usage).toMatchObject({
      prompt_tokens: 9,
      completion_tokens: 4,
      total_tokens: 13,
    });
    expect(fake.requests[0]).toMatchObject({
      stream: false,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect((await fake.waitForEnd(fake.requests[0])).how).toBe('completed');
  });

  it('echoes the last user message by default, in word-sized chunks', async () => {
    const stream = await client.chat.completions.create({
      model: 'some-model',
      messages: [{ role: 'user', content: 'hola che' }],
      stream: true,
    });
    const deltas: string[] = [];
    for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta.content ?? '');

    expect(deltas.filter(Boolean)).toEqual(['You', ' said:', ' hola', ' che']);
  });

  it('reports a stalled exchange as dropped when it stops, closing the connection', async () => {
    fake.enqueue({ text: 'never sent', stallAfterChunks: 0 });
    const request = client.chat.completions.create({
      model: 'some-model',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const readError = request
      .then(async (stream) => {
        for await (const chunk of stream) void chunk;
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );

    const [recorded] = await fake.waitForRequests(1);
    await fake.stop();

    expect((await fake.waitForEnd(recorded)).how).toBe('dropped');
    expect(await readError).toMatchObject({ message: 'terminated' });
  });
});
