import { Global, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { IpRateLimitMiddleware } from './ip-rate-limit.middleware';
import { QuotaService } from './quota.service';
import { RateLimiter } from './rate-limiter';
import { StoreOutagePolicy } from './store-outage.policy';
import { UsageController } from './usage.controller';

/** Rate limits (per IP for every request, per user where a route or use case says) and daily token quotas. */
@Global()
@Module({
  controllers: [UsageController],
  providers: [RateLimiter, QuotaService, StoreOutagePolicy],
  exports: [RateLimiter, QuotaService, StoreOutagePolicy],
})
export class LimitsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // Probes from load balancers and Prometheus must see the truth even when limits are refusing.
    consumer
      .apply(IpRateLimitMiddleware)
      .exclude(
        { path: 'api/health/*path', method: RequestMethod.GET },
        { path: 'api/health', method: RequestMethod.GET },
      )
      .forRoutes('*');
  }
}
