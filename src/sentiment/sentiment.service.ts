import { Injectable } from '@nestjs/common';
import type { SentimentLabel, SentimentResult } from '@charla/contracts';
// Deep imports: natural's index also loads its storage adapters, which run dotenv.config() (a
// `.env` would silently enter process.env) and pull in mongoose, redis and pg clients.
import { SentimentAnalyzer } from 'natural/lib/natural/sentiment';
import { PorterStemmer, PorterStemmerEs } from 'natural/lib/natural/stemmers';
import { AggressiveTokenizer, AggressiveTokenizerEs } from 'natural/lib/natural/tokenizers';
import { detect } from 'tinyld';

export const SCORED_LANGUAGES = ['es', 'en'] as const;
type ScoredLanguage = (typeof SCORED_LANGUAGES)[number];

/**
 * Mean AFINN valence per token above which a text is positive (below its negative, negative).
 * Measured on src/sentiment/sample/labelled.json, see docs/sentiment.md.
 */
export const LABEL_THRESHOLD = 0.2;
/** Language detection reads this much; the rest of a long text would only cost time. */
const DETECTION_CHARS = 1000;

interface Scorer {
  tokenize(text: string): string[];
  analyzer: SentimentAnalyzer;
}

/**
 * Sentiment of a chat message: its language detected with tinyld (among the languages we score),
 * then natural's AFINN vocabulary for that language, with stemming and negation. Synchronous and
 * well under a millisecond for a chat-sized text.
 */
@Injectable()
export class SentimentService {
  private readonly scorers: Record<ScoredLanguage, Scorer>;

  constructor() {
    const es = new AggressiveTokenizerEs();
    const en = new AggressiveTokenizer();
    this.scorers = {
      es: {
        tokenize: (text) => es.tokenize(text),
        analyzer: new SentimentAnalyzer('Spanish', PorterStemmerEs, 'afinn'),
      },
      en: {
        tokenize: (text) => en.tokenize(text),
        analyzer: new SentimentAnalyzer('English', PorterStemmer, 'afinn'),
      },
    };
  }

  analyze(text: string): SentimentResult {
    const language = this.detectLanguage(text);
    const valence =
      language === 'und'
        ? // No language to go by: whichever vocabulary finds the stronger feeling.
          strongest(SCORED_LANGUAGES.map((lang) => this.valence(lang, text)))
        : this.valence(language, text);
    return { label: labelOf(valence), score: round(Math.tanh(valence)), language };
  }

  /**
   * `es` or `en`, or `und` when the text has nothing to go by (numbers, emoji, a single short word).
   * Detection is restricted to the languages we score: on short chat messages tinyld's open guess
   * is often a third language (see docs/sentiment.md).
   */
  private detectLanguage(text: string): ScoredLanguage | 'und' {
    const detected = detect(text.slice(0, DETECTION_CHARS), { only: [...SCORED_LANGUAGES] });
    return (SCORED_LANGUAGES as readonly string[]).includes(detected)
      ? (detected as ScoredLanguage)
      : 'und';
  }

  /** Mean AFINN valence per token (natural's score), 0 for a text without words. */
  private valence(language: ScoredLanguage, text: string): number {
    const { tokenize, analyzer } = this.scorers[language];
    const tokens = tokenize(text);
    return tokens.length === 0 ? 0 : analyzer.getSentiment(tokens);
  }
}

function labelOf(valence: number): SentimentLabel {
  if (valence > LABEL_THRESHOLD) return 'positive';
  if (valence < -LABEL_THRESHOLD) return 'negative';
  return 'neutral';
}

function strongest(values: number[]): number {
  return values.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
}

/** Four decimals: what a `real` column keeps, so the stored score reads back as it was sent. */
function round(score: number): number {
  return Math.round(score * 10_000) / 10_000;
}
