import { createPublicKey } from 'node:crypto';
import { envSchema, type Env, type LlmEndpointSetting } from './env.schema';

/** Dev-only secret so `npm start` and `npm run token` work with no configuration. */
export const DEV_JWT_SECRET = 'charla-development-secret-do-not-use-in-production';
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/** Thrown at start when the environment is invalid; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type JwtKey =
  { algorithm: 'HS256'; secret: string } | { algorithm: 'RS256' | 'ES256'; publicKey: string };

/** The named rate limits (SPEC §6): per user for chat sends and history reads, per IP for the rest. */
export type LimitName = 'chat' | 'history' | 'ip' | 'handshake';

export interface LlmEndpoint {
  name: string;
  baseUrl?: string;
  apiKey?: string;
  model: string;
}

/** Typed, validated settings. Built once by `loadConfig`, injected everywhere as `AppConfig`. */
export class AppConfig {
  readonly production: boolean;
  readonly http: { port: number; host: string; bodyLimitBytes: number; shutdownGraceMs: number };
  readonly logLevel: Env['LOG_LEVEL'];
  readonly database:
    | { kind: 'postgres'; url: string; poolSize: number; runMigrations: boolean }
    | { kind: 'embedded'; dataDir: string; runMigrations: boolean };
  readonly redis: { kind: 'redis'; url: string } | { kind: 'memory' };
  readonly jwt: { key: JwtKey; issuer?: string; audience?: string; clockToleranceSec: number };
  readonly llm: {
    provider: 'openai' | 'offline';
    endpoints: LlmEndpoint[];
    maxOutputTokens: number;
    contextTokens: number;
    firstTokenTimeoutMs: number;
    idleTimeoutMs: number;
    maxRetries: number;
    retryBaseDelayMs: number;
    breakerThreshold: number;
    breakerHalfOpenMs: number;
  };

  readonly chat: {
    maxConcurrent: number;
    coalesceMs: number;
    coalesceMaxChars: number;
    resumeTtlMs: number;
    wsAuthTimeoutMs: number;
  };

  readonly limits: {
    windowMs: number;
    perWindow: Record<LimitName, number>;
    failOpen: boolean;
    /** Express `trust proxy` value: which hops may set X-Forwarded-For. */
    trustedProxies: string[];
    maxSocketsPerUser: number;
    dailyTokens: number;
  };

  constructor(env: Env) {
    this.production = env.NODE_ENV === 'production';
    this.http = {
      port: env.PORT,
      host: env.HOST,
      bodyLimitBytes: env.BODY_LIMIT_BYTES,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    };
    this.logLevel = env.LOG_LEVEL;
    this.database = env.DATABASE_URL
      ? {
          kind: 'postgres',
          url: env.DATABASE_URL,
          poolSize: env.DB_POOL_SIZE,
          runMigrations: env.DB_MIGRATIONS_RUN,
        }
      : { kind: 'embedded', dataDir: env.DATA_DIR, runMigrations: env.DB_MIGRATIONS_RUN };
    this.redis = env.REDIS_URL ? { kind: 'redis', url: env.REDIS_URL } : { kind: 'memory' };
    this.jwt = {
      key: env.JWT_PUBLIC_KEY
        ? { algorithm: publicKeyAlgorithm(env.JWT_PUBLIC_KEY), publicKey: env.JWT_PUBLIC_KEY }
        : { algorithm: 'HS256', secret: env.JWT_SECRET ?? DEV_JWT_SECRET },
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      clockToleranceSec: env.JWT_CLOCK_TOLERANCE_S,
    };
    const endpoints = llmEndpoints(env);
    this.llm = {
      provider:
        env.LLM_PROVIDER === 'auto' ? (endpoints.length ? 'openai' : 'offline') : env.LLM_PROVIDER,
      endpoints,
      maxOutputTokens: env.LLM_MAX_OUTPUT_TOKENS,
      contextTokens: env.LLM_CONTEXT_TOKENS,
      firstTokenTimeoutMs: env.LLM_FIRST_TOKEN_TIMEOUT_MS,
      idleTimeoutMs: env.LLM_IDLE_TIMEOUT_MS,
      maxRetries: env.LLM_MAX_RETRIES,
      retryBaseDelayMs: env.LLM_RETRY_BASE_DELAY_MS,
      breakerThreshold: env.LLM_BREAKER_THRESHOLD,
      breakerHalfOpenMs: env.LLM_BREAKER_HALF_OPEN_MS,
    };
    this.chat = {
      maxConcurrent: env.CHAT_MAX_CONCURRENT,
      coalesceMs: env.CHAT_COALESCE_MS,
      coalesceMaxChars: env.CHAT_COALESCE_MAX_CHARS,
      resumeTtlMs: env.CHAT_RESUME_TTL_S * 1000,
      wsAuthTimeoutMs: env.WS_AUTH_TIMEOUT_MS,
    };
    this.limits = {
      windowMs: env.RATE_LIMIT_WINDOW_S * 1000,
      perWindow: {
        chat: env.RATE_LIMIT_CHAT,
        history: env.RATE_LIMIT_HISTORY,
        ip: env.RATE_LIMIT_IP,
        handshake: env.RATE_LIMIT_HANDSHAKES,
      },
      failOpen: env.RATE_LIMIT_FAIL_OPEN,
      trustedProxies: (env.TRUSTED_PROXIES ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
      maxSocketsPerUser: env.MAX_SOCKETS_PER_USER,
      dailyTokens: env.QUOTA_DAILY_TOKENS,
    };
  }
}

function publicKeyAlgorithm(pem: string): 'RS256' | 'ES256' {
  const type = createPublicKey(pem).asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ec') return 'ES256';
  throw new Error(`unsupported key type ${type}; use an RSA or P-256 EC public key`);
}

function llmEndpoints(env: Env): LlmEndpoint[] {
  const primary: LlmEndpointSetting[] =
    env.OPENAI_API_KEY || env.OPENAI_BASE_URL
      ? [
          {
            baseUrl: env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
            apiKey: env.OPENAI_API_KEY,
          },
        ]
      : [];
  // A fallback never inherits OPENAI_API_KEY: that would hand the primary's key to another host.
  return [...primary, ...(env.LLM_FALLBACKS ?? [])].map((e, i) => ({
    name: e.name ?? `endpoint-${i + 1}`,
    baseUrl: e.baseUrl,
    apiKey: e.apiKey,
    model: e.model ?? env.LLM_MODEL,
  }));
}

/** Parses and checks the environment; throws `ConfigError` naming each bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw = Object.fromEntries(
    Object.entries(source).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  let config: AppConfig;
  try {
    config = new AppConfig(parsed.data);
  } catch (err) {
    throw new ConfigError([`JWT_PUBLIC_KEY: ${(err as Error).message}`]);
  }
  const problems = configProblems(parsed.data, config);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

function configProblems(env: Env, config: AppConfig): string[] {
  const problems: string[] = [];
  if (env.LLM_PROVIDER === 'openai' && config.llm.endpoints.length === 0) {
    problems.push('LLM_PROVIDER: openai needs OPENAI_API_KEY, OPENAI_BASE_URL or LLM_FALLBACKS');
  }
  if (!config.production) return problems;
  if (config.llm.provider === 'offline') {
    problems.push(
      'OPENAI_API_KEY or OPENAI_BASE_URL: production needs a real LLM endpoint (the offline provider is for development)',
    );
  }
  if (
    !env.JWT_PUBLIC_KEY &&
    (!env.JWT_SECRET || env.JWT_SECRET.length < MIN_PRODUCTION_SECRET_LENGTH)
  ) {
    problems.push(
      `JWT_SECRET: production needs a secret of at least ${MIN_PRODUCTION_SECRET_LENGTH} characters (or JWT_PUBLIC_KEY)`,
    );
  }
  if (!env.ALLOW_EMBEDDED_STORAGE) {
    if (!env.DATABASE_URL)
      problems.push(
        'DATABASE_URL: production needs PostgreSQL (or set ALLOW_EMBEDDED_STORAGE=true)',
      );
    if (!env.REDIS_URL)
      problems.push('REDIS_URL: production needs Redis (or set ALLOW_EMBEDDED_STORAGE=true)');
  }
  return problems;
}
