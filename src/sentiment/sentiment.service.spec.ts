import type { SentimentLabel } from '@charla/contracts';
import sample from './sample/labelled.json';
import { SentimentService } from './sentiment.service';

interface Labelled {
  text: string;
  language: 'es' | 'en';
  label: SentimentLabel;
}

/**
 * Floors a little under what docs/sentiment.md reports (123/140 overall; es 57/70, en 66/70;
 * language 140/140): a change of library, vocabulary or threshold that costs more than about two
 * sentences per language fails here.
 */
const FLOORS = { overall: 0.85, es: 0.78, en: 0.91, perLabel: 0.65, language: 0.97 };

describe('SentimentService', () => {
  const service = new SentimentService();
  const rows = sample as Labelled[];
  const results = rows.map((row) => ({ row, result: service.analyze(row.text) }));
  const accuracy = (selected: typeof results) =>
    selected.filter(({ row, result }) => result.label === row.label).length / selected.length;

  it('holds a balanced Spanish and English sample', () => {
    for (const language of ['es', 'en'])
      for (const label of ['positive', 'neutral', 'negative']) {
        const count = rows.filter((r) => r.language === language && r.label === label).length;
        expect(count).toBeGreaterThanOrEqual(20);
      }
  });

  it('labels the sample at least as well as measured', () => {
    const report: [string, number, number][] = [['overall', accuracy(results), FLOORS.overall]];
    for (const language of ['es', 'en'] as const) {
      const inLanguage = results.filter(({ row }) => row.language === language);
      report.push([language, accuracy(inLanguage), FLOORS[language]]);
      for (const label of ['positive', 'neutral', 'negative'] as const) {
        const withLabel = inLanguage.filter(({ row }) => row.label === label);
        report.push([`${language}/${label}`, accuracy(withLabel), FLOORS.perLabel]);
      }
    }
    // Lists every measure under its floor, so a failure says where accuracy was lost.
    expect(report.filter(([, measured, floor]) => measured < floor)).toEqual([]);
  });

  it("detects each sentence's language", () => {
    const right = results.filter(({ row, result }) => result.language === row.language).length;
    expect(right / results.length).toBeGreaterThanOrEqual(FLOORS.language);
  });

  it('keeps scores in -1..1 and on the side of their label', () => {
    for (const { result } of results) {
      expect(Math.abs(result.score)).toBeLessThanOrEqual(1);
      if (result.label === 'positive') expect(result.score).toBeGreaterThan(0);
      if (result.label === 'negative') expect(result.score).toBeLessThan(0);
    }
  });

  it.each([
    ['Estoy preocupado por la caída del mercado', 'negative', 'es'],
    ['I love how fast this is!', 'positive', 'en'],
    ['El informe trimestral se publica el lunes.', 'neutral', 'es'],
    ['No estoy contento con el servicio', 'negative', 'es'],
    ['The answer was not good', 'negative', 'en'],
  ])('%p is %s (%s)', (text, label, language) => {
    expect(service.analyze(text)).toMatchObject({ label, language });
  });

  it('answers `und` when there is no language to go by', () => {
    expect(service.analyze('12345 !!!')).toEqual({ label: 'neutral', score: 0, language: 'und' });
    expect(service.analyze('jajaja')).toMatchObject({ language: 'und', label: 'neutral' });
  });
});
