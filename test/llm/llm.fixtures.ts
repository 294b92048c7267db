import { loadConfig, type AppConfig } from '../../src/config/app.config';
import type { LlmResult, LlmStream, PromptMessage } from '../../src/llm/llm.provider';

export const PROMPT: PromptMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Say hello to the world.' },
];

/**
 * Config for one or more fake endpoints, with timings small enough for tests; `env` overrides.
 * The first URL is the primary endpoint ('endpoint-1'), the others fallbacks named 'fallback-N'.
 */
export function llmConfig(urls: string[], env: Record<string, string> = {}): AppConfig {
  const [primary, ...fallbacks] = urls;
  return loadConfig({
    NODE_ENV: 'test',
    OPENAI_BASE_URL: primary,
    OPENAI_API_KEY: 'test-key',
    LLM_MODEL: 'fake-model',
    LLM_FALLBACKS: JSON.stringify(
      fallbacks.map((baseUrl, i) => ({ name: `fallback-${i + 1}`, baseUrl })),
    ),
    LLM_FIRST_TOKEN_TIMEOUT_MS: '2000',
    LLM_IDLE_TIMEOUT_MS: '2000',
    LLM_MAX_RETRIES: '2',
    LLM_RETRY_BASE_DELAY_MS: '10',
    LLM_BREAKER_THRESHOLD: '10',
    LLM_BREAKER_HALF_OPEN_MS: '30000',
    ...env,
  });
}

export interface StreamOutcome {
  deltas: string[];
  /** `Date.now()` when each delta arrived. */
  arrivals: number[];
  result?: LlmResult;
  error?: unknown;
}

/**
 * Iterates a stream to its end, recording each delta; `onDelta` may abort or return 'stop' to leave
 * the loop early. Never throws: a failure lands in `error` (and `result` must reject with it).
 */
export async function readStream(
  stream: LlmStream,
  onDelta?: (delta: string, index: number) => 'stop' | void,
): Promise<StreamOutcome> {
  const outcome: StreamOutcome = { deltas: [], arrivals: [] };
  try {
    for await (const delta of stream) {
      outcome.deltas.push(delta);
      outcome.arrivals.push(Date.now());
      if (onDelta?.(delta, outcome.deltas.length - 1) === 'stop') break;
    }
    outcome.result = await stream.result;
  } catch (error) {
    outcome.error = error;
    await expect(stream.result).rejects.toBe(error);
  }
  return outcome;
}
