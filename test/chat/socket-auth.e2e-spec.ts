import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import {
  chatSuite,
  connectSocketIo,
  connectWs,
  refusedSocketIo,
  refusedWs,
  type ChatClient,
  type SocketIoClient,
  type WsClient,
} from '../support/chat-clients';
import { storageSetups } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const WS_AUTH_TIMEOUT_MS = 300;
const CLOSE_UNAUTHORIZED = 4401;
/** A token that expires 1-2 s from now (`exp` has whole seconds). */
const shortLived = (sub: string) => signToken(sub, { sign: { expiresIn: 2 } });
const expiryOf = (token: string) => (jwt.decode(token) as { exp: number }).exp * 1000;
const sleepUntil = (at: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

/** Who may open a socket, and for how long (SPEC §3). */
describe.each(storageSetups())('Socket authentication [$name]', (setup) => {
  const suite = chatSuite(
    setup,
    {
      WS_AUTH_TIMEOUT_MS: String(WS_AUTH_TIMEOUT_MS),
      // Expiry is exact here, so a 2 s token ends within the test.
      JWT_CLOCK_TOLERANCE_S: '0',
    },
    { text: 'Sigo acá' },
  );
  const { fake } = suite;

  /** The connection can still chat: a send gets its whole reply. */
  async function expectChatting(client: ChatClient): Promise<void> {
    const ack = await client.request('chat:send', {
      clientMessageId: randomUUID(),
      content: '¿Seguís?',
    });
    expect(ack.ok).toBe(true);
    expect((await client.collectReply(ack.replyId)).done?.content).toBe('Sigo acá');
  }

  describe('handshake', () => {
    it('refuses a Socket.IO handshake without a token (connect_error, code unauthorized)', async () => {
      const error = await refusedSocketIo(suite.app.url, {});
      expect(error.data).toEqual({
        code: 'unauthorized',
        message: expect.stringMatching(/token/i),
      });
    });

    it('accepts the token in an Authorization header on Socket.IO too', async () => {
      const client = await connectSocketIo(suite.app.url, {
        headers: bearer(signToken(newUserId())),
      });
      await expectChatting(client);
    });

    it.each([
      [
        'a bad signature',
        signToken(newUserId(), { secret: 'not-the-secret-of-this-server-at-all' }),
      ],
      ['an expired token', signToken(newUserId(), { sign: { expiresIn: -10 } })],
      ['garbage', 'not.a.jwt'],
    ])('refuses %s on both transports', async (_, token) => {
      const error = await refusedSocketIo(suite.app.url, { token });
      expect(error.data?.code).toBe('unauthorized');
      const refused = await refusedWs(suite.app.url, '/ws', bearer(token));
      expect(refused).toEqual({
        status: 401,
        body: { code: 'unauthorized', error: expect.any(String) },
      });
    });

    it('refuses a token in the query string, saying how to send it instead', async () => {
      const token = signToken(newUserId());
      const error = await refusedSocketIo(suite.app.url, { query: { token } });
      expect(error.data).toEqual({
        code: 'unauthorized',
        message: expect.stringContaining('Authorization'),
      });
      const refused = await refusedWs(suite.app.url, `/ws?token=${token}`);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({
        code: 'unauthorized',
        error: expect.stringContaining('Authorization'),
      });
    });

    it('closes a /ws connection that sends no token and no auth frame', async () => {
      const startedAt = Date.now();
      const ws = await connectWs(suite.app.url);
      const closed = await ws.closed;
      expect(closed.code).toBe(CLOSE_UNAUTHORIZED);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(WS_AUTH_TIMEOUT_MS - 50);
      expect(Date.now() - startedAt).toBeLessThan(WS_AUTH_TIMEOUT_MS + 1500);
    });

    it.each([
      [
        'a first frame that is not auth',
        { type: 'chat:send', data: { clientMessageId: 'a', content: 'hi' } },
      ],
      ['an auth frame with a bad token', { type: 'auth', data: { token: 'not.a.jwt' } }],
    ])('closes a /ws connection on %s, after an unauthorized error frame', async (_, frame) => {
      const ws = await connectWs(suite.app.url);
      ws.send(frame);
      expect((await ws.closed).code).toBe(CLOSE_UNAUTHORIZED);
      expect(ws.of('error')).toEqual([{ code: 'unauthorized', message: expect.any(String) }]);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('expiry', () => {
    it('sends auth:expired at expiry then disconnects; a refused refresh does not extend it', async () => {
      const sub = newUserId();
      const token = shortLived(sub);
      const io = await connectSocketIo(suite.app.url, { token });
      const ws = await connectWs(suite.app.url, { authFrame: token });

      // A token of another user, or an invalid one, is refused and changes nothing.
      const otherUser = await io.request('auth:refresh', {
        token: signToken(newUserId(), { sign: { expiresIn: '1h' } }),
      });
      expect(otherUser).toEqual({
        ok: false,
        error: { code: 'forbidden', message: expect.stringContaining('same user') },
      });
      expect(await ws.request('auth:refresh', { token: 'not.a.jwt' })).toEqual({
        ok: false,
        error: { code: 'unauthorized', message: expect.any(String) },
      });

      await io.next('auth:expired', undefined, 3000);
      const expiredAt = Date.now();
      expect(expiredAt).toBeGreaterThanOrEqual(expiryOf(token) - 50);
      expect(expiredAt).toBeLessThan(expiryOf(token) + 1000);
      await io.disconnected();
      expect((await ws.closed).code).toBe(CLOSE_UNAUTHORIZED);
      expect(ws.received.map((r) => r.event)).toEqual(['auth:expired']);

      // Reconnecting re-runs authentication: the same token is refused now.
      expect((await refusedSocketIo(suite.app.url, { token })).data).toEqual({
        code: 'unauthorized',
        message: 'Token expired',
      });
    });

    it('auth:refresh with a new token of the same user keeps the socket past the old expiry', async () => {
      const sub = newUserId();
      const token = shortLived(sub);
      const clients: [SocketIoClient, WsClient] = [
        await connectSocketIo(suite.app.url, { token }),
        await connectWs(suite.app.url, { token }),
      ];
      const fresh = signToken(sub, { sign: { expiresIn: '1h' } });

      for (const client of clients) {
        const ack = await client.request('auth:refresh', { token: fresh });
        expect(ack).toEqual({ ok: true, expiresAt: new Date(expiryOf(fresh)).toISOString() });
      }
      await sleepUntil(expiryOf(token) + 500);

      for (const client of clients) {
        expect(client.received.map((r) => r.event)).not.toContain('auth:expired');
        await expectChatting(client);
      }
      expect(clients[0].socket.connected).toBe(true);
      expect(clients[1].isOpen).toBe(true);
    });
  });
});
