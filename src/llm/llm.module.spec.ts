import { Test } from '@nestjs/testing';
import { loadConfig } from '../config/app.config';
import { ConfigModule } from '../config/config.module';
import { LlmModule } from './llm.module';
import { LlmProvider } from './llm.provider';
import { Tokenizer } from './tokenizer';

async function moduleFor(env: Record<string, string>) {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(loadConfig({ NODE_ENV: 'test', ...env })), LlmModule],
  }).compile();
  return { llm: moduleRef.get(LlmProvider), tokenizer: moduleRef.get(Tokenizer) };
}

describe('LlmModule', () => {
  it('provides the offline provider when no endpoint is configured', async () => {
    const { llm, tokenizer } = await moduleFor({});

    expect(llm.status()).toEqual({ provider: 'offline', endpoints: [] });
    expect(tokenizer.count('Hello world')).toBe(2);
  });

  it('provides the configured endpoints, in failover order, all circuits closed', async () => {
    const { llm } = await moduleFor({
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'gpt-4o-mini',
      LLM_FALLBACKS: JSON.stringify([
        { name: 'local', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' },
      ]),
    });

    expect(llm.status()).toEqual({
      provider: 'openai',
      endpoints: [
        { name: 'endpoint-1', model: 'gpt-4o-mini', circuit: 'closed' },
        { name: 'local', model: 'llama3.2', circuit: 'closed' },
      ],
    });
  });
});
