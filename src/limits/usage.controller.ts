import { Controller, Get } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import type { UsageToday } from '@charla/contracts';
import { QuotaService } from './quota.service';

@Controller('api/me')
export class UsageController {
  constructor(private readonly quota: QuotaService) {}

  /** Tokens spent today (UTC) against the daily quota. */
  @Get('usage')
  usage(@CurrentUser() user: AuthUser): Promise<UsageToday> {
    return this.quota.usage(user.id);
  }
}
