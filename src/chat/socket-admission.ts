import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AuthUser } from '../auth/auth-user';
import { JwtVerifier } from '../auth/jwt.verifier';
import { hasQueryToken, QUERY_TOKEN_REFUSAL } from '../auth/query-token';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';
import { clientIpResolver } from '../limits/client-ip';
import { RateLimiter } from '../limits/rate-limiter';
import { ChatHub } from './chat.hub';

/**
 * Who may open a socket, on either transport: handshakes count against the client IP, the token is
 * verified like a REST one (query-string tokens refused), and a user has at most MAX_SOCKETS_PER_USER
 * sockets on a node.
 */
@Injectable()
export class SocketAdmission {
  private readonly clientIp: (req: IncomingMessage) => string;

  constructor(
    private readonly config: AppConfig,
    private readonly verifier: JwtVerifier,
    private readonly limiter: RateLimiter,
    private readonly hub: ChatHub,
  ) {
    this.clientIp = clientIpResolver(config.limits.trustedProxies);
  }

  /** Admits a handshake; null when it carries no token (a /ws client may send an auth frame next). */
  async admit(
    req: IncomingMessage,
    query: Record<string, unknown>,
    auth: Record<string, unknown> = {},
  ): Promise<AuthUser | null> {
    await this.limiter.consume('handshake', this.clientIp(req));
    const token = handshakeToken(req.headers, query, auth);
    return token ? this.authorize(token) : null;
  }

  /** Verifies the token and the user's socket cap. */
  authorize(token: string): AuthUser {
    const user = this.verifier.verify(token);
    if (this.hub.connectionsOf(user.id) >= this.config.limits.maxSocketsPerUser) {
      throw new AppError(
        'rate_limited',
        `At most ${this.config.limits.maxSocketsPerUser} open sockets per user; close one first`,
      );
    }
    return user;
  }
}

/** `auth.token` (Socket.IO) or an `Authorization: Bearer` header; query-string tokens are refused. */
function handshakeToken(
  headers: IncomingHttpHeaders,
  query: Record<string, unknown>,
  auth: Record<string, unknown>,
): string | null {
  if (hasQueryToken(query)) throw new AppError('unauthorized', QUERY_TOKEN_REFUSAL);
  if (typeof auth.token === 'string' && auth.token) return auth.token;
  const header = headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new AppError('unauthorized', 'Authorization header must be "Bearer <token>"');
  return match[1];
}
