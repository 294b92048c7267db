import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { rateLimitHeaders } from './rate-limited.error';
import { RateLimiter } from './rate-limiter';

/** Every HTTP request counts against its client IP, before authentication (so token guessing does too). */
@Injectable()
export class IpRateLimitMiddleware implements NestMiddleware {
  constructor(private readonly limiter: RateLimiter) {}

  use(req: Request, res: Response, next: NextFunction): void {
    this.limiter.consume('ip', req.ip ?? 'unknown').then((state) => {
      res.set(rateLimitHeaders(state));
      next();
    }, next);
  }
}
