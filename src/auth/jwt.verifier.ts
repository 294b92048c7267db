import { Injectable } from '@nestjs/common';
import jwt, { JwtPayload, VerifyOptions } from 'jsonwebtoken';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';
import type { AuthUser } from './auth-user';

const MAX_SUBJECT_LENGTH = 200;

/** The key and the pinned verification rules, shared by the REST strategy and the sockets. */
export function jwtVerification(config: AppConfig): { key: string; options: VerifyOptions } {
  const { key, issuer, audience, clockToleranceSec } = config.jwt;
  return {
    key: key.algorithm === 'HS256' ? key.secret : key.publicKey,
    options: { algorithms: [key.algorithm], issuer, audience, clockTolerance: clockToleranceSec },
  };
}

/** Maps jsonwebtoken's failures to messages that help a developer without echoing configuration. */
export function describeJwtError(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'Token expired';
  if (err instanceof jwt.NotBeforeError) return 'Token not yet valid (nbf)';
  if (err instanceof jwt.JsonWebTokenError) {
    if (err.message.includes('issuer')) return 'Token issuer (iss) not accepted';
    if (err.message.includes('audience')) return 'Token audience (aud) not accepted';
    if (err.message.includes('algorithm')) return 'Token algorithm not accepted';
    if (err.message.includes('signature')) return 'Token signature is invalid';
    return 'Token is malformed';
  }
  return 'Token is invalid';
}

/** Turns a verified payload into the caller; refuses tokens without a usable `sub`. */
export function toAuthUser(payload: JwtPayload): AuthUser {
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH) {
    throw new AppError(
      'unauthorized',
      `Token must carry a sub claim of 1-${MAX_SUBJECT_LENGTH} characters`,
    );
  }
  const roles: unknown = payload.roles;
  return {
    id: sub,
    isAdmin: Array.isArray(roles) && roles.includes('admin'),
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
  };
}

/** Verifies a raw JWT for the socket transports (REST goes through passport-jwt with the same rules). */
@Injectable()
export class JwtVerifier {
  private readonly verification: { key: string; options: VerifyOptions };

  constructor(config: AppConfig) {
    this.verification = jwtVerification(config);
  }

  verify(token: string): AuthUser {
    let payload: string | JwtPayload;
    try {
      payload = jwt.verify(token, this.verification.key, this.verification.options);
    } catch (err) {
      throw new AppError('unauthorized', describeJwtError(err));
    }
    if (typeof payload === 'string')
      throw new AppError('unauthorized', 'Token payload must be a JSON object');
    return toAuthUser(payload);
  }
}
