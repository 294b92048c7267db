import { Tokenizer } from '../llm/tokenizer';
import { extractiveSummary } from './extractive-summary';

describe('extractiveSummary', () => {
  const tokenizer = new Tokenizer();
  const count = (text: string) => tokenizer.count(text);
  const conversation = [
    'Hola, ¿cómo estás? Quiero invertir mis ahorros en bonos del Tesoro.',
    'Los bonos del Tesoro pagan cupones en dólares. El riesgo depende del plazo.',
    'Me gusta el fútbol.',
    '¿Qué plazo de bonos me conviene para ahorrar dos años?',
    'Para dos años conviene un bono corto del Tesoro. Gracias por preguntar.',
    'Ok.',
  ];

  it('keeps the sentences about what the conversation keeps returning to, in their order', () => {
    const summary = extractiveSummary(null, conversation, 60, count);
    const lines = summary.split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((line) => conversation.some((text) => text.includes(line)))).toBe(true);
    expect(summary).toMatch(/bonos del Tesoro/);
    expect(summary).not.toContain('fútbol');
    expect(summary).not.toContain('Ok.');
    const order = lines.map((line) => conversation.join(' ').indexOf(line));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('stays within the token budget', () => {
    for (const maxTokens of [5, 15, 30, 60, 200]) {
      expect(count(extractiveSummary(null, conversation, maxTokens, count))).toBeLessThanOrEqual(
        maxTokens + 1,
      );
    }
  });

  it('favours the earlier summary, which already condenses older turns', () => {
    const earlier = 'Ana ahorra para un departamento y prefiere bonos del Tesoro cortos.';
    const summary = extractiveSummary(earlier, conversation, 40, count);
    expect(summary.split('\n')[0]).toBe(earlier);
  });

  it('cuts a single sentence too long for the budget, and says nothing about nothing', () => {
    const long = `Quiero ${'invertir mucho dinero '.repeat(40)}hoy.`;
    const cut = extractiveSummary(null, [long], 20, count);
    expect(cut.endsWith('…')).toBe(true);
    expect(long.startsWith(cut.slice(0, -1))).toBe(true);
    expect(count(cut)).toBeLessThanOrEqual(21);
    expect(extractiveSummary(null, ['', '   '], 50, count)).toBe('');
  });
});
