import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { JwtPayload } from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppConfig } from '../config/app.config';
import type { AuthUser } from './auth-user';
import { jwtVerification, toAuthUser } from './jwt.verifier';

/** REST authentication: `Authorization: Bearer <jwt>`, verified with the pinned rules. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(config: AppConfig) {
    const { key, options } = jwtVerification(config);
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: key,
      // passport-jwt copies these three over jsonWebTokenOptions, so they are passed here too.
      algorithms: options.algorithms,
      issuer: options.issuer as string | undefined,
      audience: options.audience as string | undefined,
      jsonWebTokenOptions: options,
    });
  }

  validate(payload: JwtPayload): AuthUser {
    return toAuthUser(payload);
  }
}
