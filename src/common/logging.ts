import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../config/app.config';
import { QUERY_TOKEN_PARAMS } from '../auth/query-token';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** Keeps a caller's X-Request-Id when it is sane (so traces line up across services), else makes one. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Drops credential-like query parameters from a URL before it is logged. */
export function redactUrl(url: string): string {
  const [path, query] = url.split('?', 2);
  if (!query) return url;
  const params = new URLSearchParams(query);
  for (const name of QUERY_TOKEN_PARAMS) if (params.has(name)) params.set(name, '[redacted]');
  return `${path}?${params.toString()}`;
}

/**
 * JSON logs with a request id and the user id; never a token (headers are not logged, credential-like
 * query parameters are redacted) and never message text (bodies are not logged).
 */
export function loggerParams(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      genReqId: (req, res) => {
        const id = requestId(req);
        res.setHeader('X-Request-Id', id);
        return id;
      },
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
      },
      customProps: (req) => {
        const user = (req as IncomingMessage & { user?: { id: string } }).user;
        return user ? { userId: user.id } : {};
      },
      autoLogging: { ignore: (req) => req.url === '/api/health/live' || req.url === '/metrics' },
    },
  };
}
