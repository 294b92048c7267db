import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Public } from '../auth/public.decorator';
import type { HealthReport } from '@charla/contracts';
import { HealthService } from './health.service';

@Public()
@Controller('api/health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 when healthy, 503 when degraded; the body says which service is down. */
  @Get()
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthReport> {
    const report = await this.health.check();
    res.status(report.status === 'healthy' ? 200 : 503);
    return report;
  }

  /** Liveness: the process answers. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: storage answers, so a load balancer may send traffic here. */
  @Get('ready')
  async ready(
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ status: 'ready' | 'not_ready' }> {
    const ready = await this.health.ready();
    res.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready' };
  }
}
