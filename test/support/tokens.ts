import { randomUUID } from 'node:crypto';
import jwt, { type SignOptions } from 'jsonwebtoken';
import { DEV_JWT_SECRET } from '../../src/config/app.config';

/** A fresh user id per test, so suites sharing one database never see each other's data. */
export function newUserId(prefix = 'user'): string {
  return `${prefix}-${randomUUID()}`;
}

/** Signs a token the test app accepts (HS256 with the development secret unless told otherwise). */
export function signToken(
  sub: string,
  options: {
    admin?: boolean;
    secret?: string;
    sign?: SignOptions;
    claims?: Record<string, unknown>;
  } = {},
): string {
  const payload = { ...(options.admin ? { roles: ['admin'] } : {}), ...options.claims };
  return jwt.sign(payload, options.secret ?? DEV_JWT_SECRET, {
    subject: sub,
    expiresIn: '1h',
    ...options.sign,
  });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
