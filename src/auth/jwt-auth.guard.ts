import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Request } from 'express';
import { AppError } from '../common/app.error';
import type { AuthUser } from './auth-user';
import { describeJwtError } from './jwt.verifier';
import { IS_PUBLIC } from './public.decorator';
import { hasQueryToken, QUERY_TOKEN_REFUSAL } from './query-token';

/** Global REST guard: every route needs a valid bearer token unless marked @Public(). */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    if (
      this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
        context.getHandler(),
        context.getClass(),
      ])
    ) {
      return true;
    }
    const request = context.switchToHttp().getRequest<Request>();
    if (hasQueryToken(request.query)) throw new AppError('unauthorized', QUERY_TOKEN_REFUSAL);
    return super.canActivate(context);
  }

  override handleRequest<T = AuthUser>(err: unknown, user: T | false, info: unknown): T {
    if (err instanceof AppError) throw err;
    if (err || !user) {
      const missing = info instanceof Error && info.message === 'No auth token';
      throw new AppError('unauthorized', missing ? 'Missing bearer token' : describeJwtError(info));
    }
    return user;
  }
}
