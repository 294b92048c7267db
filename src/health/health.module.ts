import { Module } from '@nestjs/common';
import { LlmModule } from '../llm/llm.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { RootController } from './root.controller';

@Module({
  imports: [LlmModule],
  controllers: [RootController, HealthController],
  providers: [HealthService],
})
export class HealthModule {}
