/** Query-string parameters that look like credentials: refused, since proxies log query strings. */
export const QUERY_TOKEN_PARAMS = ['token', 'access_token', 'jwt', 'auth'];

export const QUERY_TOKEN_REFUSAL =
  'Tokens in the query string are refused because proxies log URLs. ' +
  'Send "Authorization: Bearer <token>" (REST, wscat -H), Socket.IO auth: { token }, ' +
  'or a first WebSocket frame {"type":"auth","data":{"token":"..."}}.';

export function hasQueryToken(query: Record<string, unknown>): boolean {
  return QUERY_TOKEN_PARAMS.some((name) => name in query);
}
