import { Module } from '@nestjs/common';
import { LlmModule } from '../llm/llm.module';
import { Summarizer } from './summarizer';

/** The Summarizer alone, for features that summarize without serving the summary routes (folding). */
@Module({ imports: [LlmModule], providers: [Summarizer], exports: [Summarizer] })
export class SummarizerModule {}
