import { createLlmStream, type Generation } from './llm-stream';
import type { LlmResult } from './llm.provider';

const USAGE = { promptTokens: 5, completionTokens: 2, totalTokens: 7, estimated: true };

/** Yields the words one by one; once its signal aborts it stops and says so, as drivers must. */
function words(...list: string[]): Generation & { signals: AbortSignal[] } {
  const signals: AbortSignal[] = [];
  const generation = async function* (
    signal: AbortSignal,
  ): AsyncGenerator<string, LlmResult, undefined> {
    signals.push(signal);
    let text = '';
    for (const word of list) {
      if (signal.aborted) break;
      text += word;
      yield word;
    }
    return { text, model: 'm', finishReason: signal.aborted ? 'aborted' : 'stop', usage: USAGE };
  };
  return Object.assign(generation, { signals });
}

describe('createLlmStream', () => {
  it('yields the deltas, then resolves the result the generation returned', async () => {
    const stream = createLlmStream(undefined, words('a', 'b', 'c'));
    const deltas: string[] = [];
    for await (const delta of stream) deltas.push(delta);

    expect(deltas).toEqual(['a', 'b', 'c']);
    await expect(stream.result).resolves.toMatchObject({ text: 'abc', finishReason: 'stop' });
  });

  it('aborts the generation when the consumer leaves the loop, and still resolves its result', async () => {
    const generation = words('a', 'b', 'c');
    const stream = createLlmStream(undefined, generation);
    for await (const delta of stream) if (delta === 'b') break;

    expect(generation.signals[0].aborted).toBe(true);
    await expect(stream.result).resolves.toMatchObject({ text: 'ab', finishReason: 'aborted' });
  });

  it("passes the caller's abort on to the generation", async () => {
    const caller = new AbortController();
    const stream = createLlmStream(caller.signal, words('a', 'b', 'c'));
    const deltas: string[] = [];
    for await (const delta of stream) {
      deltas.push(delta);
      caller.abort();
    }

    expect(deltas).toEqual(['a']);
    await expect(stream.result).resolves.toMatchObject({ text: 'a', finishReason: 'aborted' });
  });

  it('throws the generation error from the iterator and rejects the result with it', async () => {
    const failure = new Error('upstream broke');
    const stream = createLlmStream(undefined, async function* () {
      yield 'a';
      throw failure;
    });
    const deltas: string[] = [];
    const iterate = async () => {
      for await (const delta of stream) deltas.push(delta);
    };

    await expect(iterate()).rejects.toBe(failure);
    await expect(stream.result).rejects.toBe(failure);
    expect(deltas).toEqual(['a']);
  });

  it('can be iterated only once', async () => {
    const stream = createLlmStream(undefined, words('a'));
    for await (const delta of stream) void delta;

    await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow('only once');
  });
});
