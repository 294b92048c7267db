import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { AuthUser } from '../auth/auth-user';
import type { LimitName } from '../config/app.config';
import { rateLimitHeaders } from './rate-limited.error';
import { RateLimiter } from './rate-limiter';

const USER_LIMIT = 'charla:user-limit';

/**
 * Counts the route against a per-user limit (e.g. `@UserRateLimit('history')`); its RateLimit-*
 * headers then describe that (tighter) limit. A route guard, so it runs after authentication.
 */
export const UserRateLimit = (name: Exclude<LimitName, 'ip' | 'handshake'>) =>
  applyDecorators(SetMetadata(USER_LIMIT, name), UseGuards(UserRateLimitGuard));

@Injectable()
class UserRateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const name = this.reflector.getAllAndOverride<LimitName>(USER_LIMIT, [
      context.getHandler(),
      context.getClass(),
    ]);
    const http = context.switchToHttp();
    const user = http.getRequest<Request>().user as AuthUser;
    const state = await this.limiter.consume(name, user.id);
    http.getResponse<Response>().set(rateLimitHeaders(state));
    return true;
  }
}
