import { ConfigError, DEV_JWT_SECRET, loadConfig } from './app.config';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('runs on embedded defaults with no variables at all', () => {
    const config = loadConfig({});
    expect(config.http.port).toBe(3000);
    expect(config.database).toMatchObject({
      kind: 'embedded',
      dataDir: './data',
      runMigrations: true,
    });
    expect(config.redis.kind).toBe('memory');
    expect(config.llm.provider).toBe('offline');
    expect(config.jwt.key).toEqual({ algorithm: 'HS256', secret: DEV_JWT_SECRET });
  });

  it('treats empty values as unset, as .env.example lists them', () => {
    expect(loadConfig({ DATABASE_URL: '', REDIS_URL: '' }).database.kind).toBe('embedded');
  });

  it('names each malformed variable', () => {
    const found = problems({
      PORT: '99999',
      REDIS_URL: 'http://x',
      JWT_CLOCK_TOLERANCE_S: '600',
      LLM_FALLBACKS: '{',
    });
    expect(found.map((p) => p.split(':')[0]).sort()).toEqual([
      'JWT_CLOCK_TOLERANCE_S',
      'LLM_FALLBACKS',
      'PORT',
      'REDIS_URL',
    ]);
  });

  it('builds the ordered endpoint list from OPENAI_* and LLM_FALLBACKS', () => {
    const config = loadConfig({
      OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      OPENAI_API_KEY: 'k',
      LLM_MODEL: 'llama3',
      LLM_FALLBACKS: JSON.stringify([
        { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', apiKey: 'g', model: 'mixtral' },
      ]),
    });
    expect(config.llm.provider).toBe('openai');
    expect(config.llm.endpoints).toEqual([
      { name: 'endpoint-1', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: 'k', model: 'llama3' },
      { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', apiKey: 'g', model: 'mixtral' },
    ]);
  });

  it('never sends the primary key to a fallback host', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'sk-primary',
      LLM_FALLBACKS: JSON.stringify([{ baseUrl: 'https://openrouter.ai/api/v1' }]),
    });
    expect(config.llm.endpoints[1].apiKey).toBeUndefined();
  });

  it('refuses LLM_PROVIDER=openai without an endpoint', () => {
    expect(problems({ LLM_PROVIDER: 'openai' })[0]).toMatch(/^LLM_PROVIDER/);
  });

  it('refuses unknown fields in a fallback endpoint', () => {
    expect(problems({ LLM_FALLBACKS: '[{"baseUrl":"http://a/v1","apikey":"typo"}]' })[0]).toMatch(
      /^LLM_FALLBACKS/,
    );
  });

  describe('in production', () => {
    const ready = {
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(32),
      OPENAI_API_KEY: 'sk-test',
      DATABASE_URL: 'postgres://db/charla',
      REDIS_URL: 'redis://cache:6379',
    };

    it('starts when everything is configured', () => {
      expect(problems(ready)).toEqual([]);
    });

    it.each([
      ['the offline provider', { OPENAI_API_KEY: '' }, 'OPENAI_API_KEY'],
      ['a short secret', { JWT_SECRET: 'too-short' }, 'JWT_SECRET'],
      ['the default secret', { JWT_SECRET: '' }, 'JWT_SECRET'],
      ['embedded PostgreSQL', { DATABASE_URL: '' }, 'DATABASE_URL'],
      ['in-process Redis', { REDIS_URL: '' }, 'REDIS_URL'],
    ])('refuses %s, naming the variable', (_, override, variable) => {
      expect(problems({ ...ready, ...override }).join('\n')).toContain(variable);
    });

    it('allows embedded storage only when told to', () => {
      expect(
        problems({ ...ready, DATABASE_URL: '', REDIS_URL: '', ALLOW_EMBEDDED_STORAGE: 'true' }),
      ).toEqual([]);
    });
  });
});
