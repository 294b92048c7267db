import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * The client's address as Express computes it with the same TRUSTED_PROXIES: X-Forwarded-For is
 * honoured only from those hops, so nginx does not turn every client into one IP.
 */
export function clientIpResolver(trustedProxies: string[]): (req: IncomingMessage) => string {
  const trust = proxyaddr.compile(trustedProxies);
  return (req) => proxyaddr(req as Parameters<typeof proxyaddr>[0], trust);
}
