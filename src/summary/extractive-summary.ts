/** Sentences shorter than this say little on their own ("ok", "thanks!"); used only if nothing else is. */
const MIN_WORDS = 3;
/** An earlier summary already condenses many turns: its sentences weigh more. */
const EARLIER_SUMMARY_WEIGHT = 1.5;

interface Sentence {
  text: string;
  order: number;
  words: Set<string>;
  weight: number;
  tokens: number;
}

const sentenceSegmenter = new Intl.Segmenter(undefined, { granularity: 'sentence' });
const wordSegmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/**
 * An extractive summary: the sentences that best cover the texts (TF-IDF over sentences, with
 * sublinear term frequency, so words that are everywhere — articles, "the", "que" — weigh nothing),
 * in their original order, one per line, within `maxTokens`. Language-neutral: it only picks
 * sentences, so it is in the conversation's language. `earlier` (a previous summary) comes first.
 */
export function extractiveSummary(
  earlier: string | null,
  texts: readonly string[],
  maxTokens: number,
  countTokens: (text: string) => number,
): string {
  const all = [...(earlier ? [{ text: earlier, weight: EARLIER_SUMMARY_WEIGHT }] : [])];
  all.push(...texts.map((text) => ({ text, weight: 1 })));
  const sentences = uniqueSentences(all, countTokens);
  if (sentences.length === 0) return '';

  const scored = score(sentences);
  const candidates = scored.filter((s) => s.sentence.words.size >= MIN_WORDS);
  const ranked = (candidates.length ? candidates : scored)
    .sort((a, b) => b.score - a.score || a.sentence.order - b.sentence.order)
    .map((s) => s.sentence);

  const picked: Sentence[] = [];
  let used = 0;
  for (const sentence of ranked) {
    // Lines are joined by newlines, which cost about a token each.
    if (used + sentence.tokens + 1 > maxTokens) continue;
    picked.push(sentence);
    used += sentence.tokens + 1;
  }
  if (picked.length === 0) return truncate(ranked[0].text, maxTokens, countTokens);
  return picked
    .sort((a, b) => a.order - b.order)
    .map((s) => s.text)
    .join('\n');
}

function uniqueSentences(
  texts: { text: string; weight: number }[],
  countTokens: (text: string) => number,
): Sentence[] {
  const seen = new Set<string>();
  const sentences: Sentence[] = [];
  for (const { text, weight } of texts) {
    for (const { segment } of sentenceSegmenter.segment(text)) {
      const sentence = segment.replace(/\s+/g, ' ').trim();
      const key = sentence.toLocaleLowerCase();
      if (!sentence || seen.has(key)) continue;
      seen.add(key);
      sentences.push({
        text: sentence,
        order: sentences.length,
        words: wordsOf(sentence),
        weight,
        tokens: countTokens(sentence),
      });
    }
  }
  return sentences;
}

function wordsOf(sentence: string): Set<string> {
  const words = new Set<string>();
  for (const { segment, isWordLike } of wordSegmenter.segment(sentence.toLocaleLowerCase())) {
    if (isWordLike) words.add(segment);
  }
  return words;
}

/** Each sentence's salience: the TF-IDF weights of its words, normalised by its length. */
function score(sentences: Sentence[]): { sentence: Sentence; score: number }[] {
  const documentFrequency = new Map<string, number>();
  for (const s of sentences) {
    for (const w of s.words) documentFrequency.set(w, (documentFrequency.get(w) ?? 0) + 1);
  }
  const n = sentences.length;
  // A word's frequency across the conversation (sentences hold each word once), sublinear.
  const weightOf = (w: string) => {
    const df = documentFrequency.get(w)!;
    return (1 + Math.log(df)) * Math.log(n / df);
  };
  return sentences.map((sentence) => {
    let total = 0;
    for (const w of sentence.words) total += weightOf(w);
    return { sentence, score: (sentence.weight * total) / Math.sqrt(sentence.words.size + 1) };
  });
}

/** The start of a sentence too long for the budget, cut at a word. */
function truncate(text: string, maxTokens: number, countTokens: (text: string) => number): string {
  let cut = text;
  for (let i = 0; i < 20 && cut && countTokens(cut) > maxTokens; i++) {
    cut = cut.slice(0, Math.floor(((cut.length * maxTokens) / countTokens(cut)) * 0.9));
    cut = cut.slice(0, Math.max(cut.lastIndexOf(' '), 1));
  }
  return cut ? `${cut}…` : '';
}
