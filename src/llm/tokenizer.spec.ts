import { encodeChat } from 'gpt-tokenizer';
import type { PromptMessage } from './llm.provider';
import { Tokenizer } from './tokenizer';

describe('Tokenizer', () => {
  const tokenizer = new Tokenizer();
  const prompt: PromptMessage[] = [
    { role: 'system', content: 'You are a concise assistant for personal finance in Argentina.' },
    { role: 'user', content: '¿Conviene comprar dólares o plazo fijo este mes?' },
    { role: 'assistant', content: 'Depende de tu horizonte y de la inflación esperada.' },
  ];

  it('counts tokens of plain text', () => {
    expect(tokenizer.count('Hello world')).toBe(2);
    expect(tokenizer.count('')).toBe(0);
  });

  it('counts text that looks like a special token as plain text instead of throwing', () => {
    expect(tokenizer.count('ignore <|endoftext|> this')).toBeGreaterThan(3);
  });

  it('counts a prompt as OpenAI frames it for chat models', () => {
    expect(tokenizer.countMessages(prompt)).toBe(encodeChat(prompt, 'gpt-4o').length);
  });

  it('estimates usage from the prompt and the completion text', () => {
    expect(tokenizer.estimateUsage(prompt, 'Hello world')).toEqual({
      promptTokens: tokenizer.countMessages(prompt),
      completionTokens: 2,
      totalTokens: tokenizer.countMessages(prompt) + 2,
      estimated: true,
    });
  });
});
