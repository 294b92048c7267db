import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { OfflineDriver } from './drivers/offline.driver';
import { OpenAiDriver } from './drivers/openai.driver';
import { FailoverProvider } from './failover.provider';
import { LlmProvider } from './llm.provider';
import { Tokenizer } from './tokenizer';

/** The provider the configuration asks for: the offline stand-in, or the endpoints with failover. */
export function createLlmProvider({ llm }: AppConfig, tokenizer: Tokenizer): LlmProvider {
  if (llm.provider === 'offline') return new OfflineDriver(tokenizer);
  const drivers = llm.endpoints.map((endpoint) => new OpenAiDriver(endpoint, llm, tokenizer));
  return new FailoverProvider(drivers, llm, tokenizer);
}

/** Provides `LlmProvider` (chosen once from AppConfig) and the `Tokenizer` prompts are budgeted with. */
@Module({
  providers: [
    Tokenizer,
    { provide: LlmProvider, useFactory: createLlmProvider, inject: [AppConfig, Tokenizer] },
  ],
  exports: [LlmProvider, Tokenizer],
})
export class LlmModule {}
