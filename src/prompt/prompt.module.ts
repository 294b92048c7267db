import { Module } from '@nestjs/common';
import { LlmModule } from '../llm/llm.module';
import { SummarizerModule } from '../summary/summarizer.module';
import { MemoryRepository } from './memory.repository';
import { PersonaCatalog } from './persona.catalog';
import { PromptBudget } from './prompt.budget';
import { PromptService } from './prompt.service';
import { SummaryFolder } from './summary.folder';

/** Prompts within the token budget, conversation memory, and folding old turns into the rolling summary. */
@Module({
  imports: [LlmModule, SummarizerModule],
  providers: [PromptService, PromptBudget, PersonaCatalog, MemoryRepository, SummaryFolder],
  exports: [PromptService],
})
export class PromptModule {}
