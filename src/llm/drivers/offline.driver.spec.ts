import { Tokenizer } from '../tokenizer';
import { OfflineDriver } from './offline.driver';

describe('OfflineDriver', () => {
  const tokenizer = new Tokenizer();
  const driver = new OfflineDriver(tokenizer, { minDelayMs: 1, maxDelayMs: 3 });
  const messages = [
    { role: 'system' as const, content: 'You are Charla.' },
    { role: 'user' as const, content: 'Hola, ¿me ayudás con mi presupuesto?' },
  ];

  it('streams a labelled reply in several chunks, as model "offline", with estimated usage', async () => {
    const stream = driver.stream({ messages });
    const deltas: string[] = [];
    for await (const delta of stream) deltas.push(delta);
    const result = await stream.result;

    expect(deltas.length).toBeGreaterThan(10);
    expect(result.text).toBe(deltas.join(''));
    expect(result.text).toMatch(/offline development provider/);
    expect(result.text).toMatch(/no LLM is configured/);
    expect(result.text).toContain('Hola, ¿me ayudás con mi presupuesto?');
    expect(result).toMatchObject({ model: 'offline', finishReason: 'stop' });
    expect(result.usage).toEqual(tokenizer.estimateUsage(messages, result.text));
  });

  it('paces its chunks like a model', async () => {
    const paced = new OfflineDriver(tokenizer, { minDelayMs: 20, maxDelayMs: 40 });
    const startedAt = Date.now();
    const stream = paced.stream({ messages });
    let chunks = 0;
    for await (const delta of stream) if (delta && ++chunks === 5) break;

    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(5 * 20 - 5);
  });

  it('stops when aborted and reports what it streamed', async () => {
    const controller = new AbortController();
    const stream = driver.stream({ messages, signal: controller.signal });
    const deltas: string[] = [];
    for await (const delta of stream) {
      deltas.push(delta);
      if (deltas.length === 3) controller.abort();
    }
    const result = await stream.result;

    expect(deltas).toHaveLength(3);
    expect(result).toMatchObject({ text: deltas.join(''), finishReason: 'aborted' });
    expect(result.usage.completionTokens).toBe(tokenizer.count(deltas.join('')));
  });

  it('reports itself as the offline provider, with no endpoints', () => {
    expect(driver.status()).toEqual({ provider: 'offline', endpoints: [] });
  });
});
