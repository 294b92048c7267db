import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a ${protocols.join(' or ')} URL`,
  );

/** One OpenAI-compatible endpoint of the ordered fallback list (`LLM_FALLBACKS`). */
export const llmEndpointSchema = z.strictObject({
  baseUrl: url(['http:', 'https:']),
  apiKey: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
});

const llmFallbacks = z
  .string()
  .transform((raw, ctx) => {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array' });
      return z.NEVER;
    }
  })
  .pipe(z.array(llmEndpointSchema));

/**
 * Every setting Charla reads, validated once at start. Empty strings count as unset so that
 * `.env.example` can list every variable with an empty value.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  SHUTDOWN_GRACE_MS: int(0, 10 * 60_000).default(10_000),

  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DB_MIGRATIONS_RUN: bool.default(true),
  DB_POOL_SIZE: int(1, 200).default(10),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  ALLOW_EMBEDDED_STORAGE: bool.default(false),

  JWT_SECRET: z.string().min(1).optional(),
  JWT_PUBLIC_KEY: z.string().min(1).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CLOCK_TOLERANCE_S: int(0, 60).default(30),

  LLM_PROVIDER: z.enum(['auto', 'openai', 'offline']).default('auto'),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: url(['http:', 'https:']).optional(),
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  LLM_FALLBACKS: llmFallbacks.optional(),
  LLM_MAX_OUTPUT_TOKENS: int(1, 200_000).default(1024),
  LLM_CONTEXT_TOKENS: int(256, 2_000_000).default(16_000),
  LLM_FIRST_TOKEN_TIMEOUT_MS: int(100).default(30_000),
  LLM_IDLE_TIMEOUT_MS: int(100).default(30_000),
  LLM_MAX_RETRIES: int(0, 10).default(2),
  LLM_RETRY_BASE_DELAY_MS: int(1, 60_000).default(250),
  LLM_BREAKER_THRESHOLD: int(1, 1000).default(5),
  LLM_BREAKER_HALF_OPEN_MS: int(100).default(30_000),

  CHAT_MAX_CONCURRENT: int(1, 100).default(2),
  CHAT_COALESCE_MS: int(0, 1000).default(20),
  CHAT_COALESCE_MAX_CHARS: int(1, 65_536).default(512),
  CHAT_RESUME_TTL_S: int(600, 7 * 24 * 3600).default(900),
  WS_AUTH_TIMEOUT_MS: int(100, 60_000).default(5000),

  RATE_LIMIT_WINDOW_S: int(1, 3600).default(60),
  RATE_LIMIT_CHAT: int(1).default(20),
  RATE_LIMIT_HISTORY: int(1).default(10),
  RATE_LIMIT_IP: int(1).default(100),
  RATE_LIMIT_HANDSHAKES: int(1).default(30),
  RATE_LIMIT_FAIL_OPEN: bool.default(true),
  TRUSTED_PROXIES: z.string().optional(),
  MAX_SOCKETS_PER_USER: int(1, 1000).default(10),
  QUOTA_DAILY_TOKENS: int(0).default(0),
});

export type Env = z.infer<typeof envSchema>;
export type LlmEndpointSetting = z.infer<typeof llmEndpointSchema>;
