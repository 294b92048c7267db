import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { DEV_JWT_SECRET } from '../../src/config/app.config';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const now = () => Math.floor(Date.now() / 1000);

/** Every refusal has the same shape: 401 with the error envelope, whatever went wrong. */
async function expectUnauthorized(app: TestApp, headers: Record<string, string>, message: RegExp) {
  const res = await request(`${app.url}/api/conversations`, { headers });
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ code: 'unauthorized', error: expect.stringMatching(message) });
  expect(res.body.requestId).toEqual(expect.any(String));
}

function unsignedToken(payload: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

describe.each(storageSetups())('JWT authentication over REST [$name]', (setup) => {
  let app: TestApp;
  const user = newUserId();

  beforeAll(async () => {
    app = await startApp({ ...setup.env(), JWT_ISSUER: 'main-backend', JWT_AUDIENCE: 'charla' });
  });
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  const valid = (extra: Partial<jwt.SignOptions> = {}) =>
    signToken(user, { sign: { issuer: 'main-backend', audience: 'charla', ...extra } });

  it('accepts a valid token', async () => {
    const res = await request(`${app.url}/api/conversations`, { headers: bearer(valid()) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [], nextCursor: null });
  });

  it.each([
    ['missing', {}, /missing bearer token/i],
    ['malformed', bearer('not.a.jwt'), /malformed/i],
    [
      'not a bearer scheme',
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      /missing/i,
    ],
  ])('refuses a %s token', async (_, headers, message) => {
    await expectUnauthorized(app, headers, message);
  });

  it('refuses a bad signature', async () => {
    const forged = signToken(user, {
      secret: 'another-secret-of-sufficient-length!!',
      sign: { issuer: 'main-backend', audience: 'charla' },
    });
    await expectUnauthorized(app, bearer(forged), /signature/i);
  });

  it('refuses alg: none', async () => {
    const token = unsignedToken({
      sub: user,
      iss: 'main-backend',
      aud: 'charla',
      exp: now() + 3600,
    });
    await expectUnauthorized(app, bearer(token), /./);
  });

  it('refuses a wrong issuer and a wrong audience', async () => {
    await expectUnauthorized(app, bearer(valid({ issuer: 'someone-else' })), /issuer/i);
    await expectUnauthorized(app, bearer(valid({ audience: 'other-service' })), /audience/i);
  });

  it('accepts a token expired within the clock tolerance and refuses one beyond it', async () => {
    const tolerance = app.config.jwt.clockToleranceSec;
    // The default tolerance (JWT_CLOCK_TOLERANCE_S): a clock 10 s behind is within it.
    expect(tolerance).toBe(30);
    const expiredAgo = (seconds: number) =>
      jwt.sign(
        { sub: user, iss: 'main-backend', aud: 'charla', exp: now() - seconds },
        DEV_JWT_SECRET,
      );
    const lately = await request(`${app.url}/api/conversations`, {
      headers: bearer(expiredAgo(10)),
    });
    expect(lately.status).toBe(200);
    await expectUnauthorized(app, bearer(expiredAgo(tolerance + 5)), /expired/i);
  });

  it('refuses a token whose nbf is beyond the clock tolerance', async () => {
    await expectUnauthorized(app, bearer(valid({ notBefore: '10m' })), /not yet valid/i);
  });

  it('refuses a token without sub', async () => {
    const token = jwt.sign({ iss: 'main-backend', aud: 'charla' }, DEV_JWT_SECRET, {
      expiresIn: '1h',
    });
    await expectUnauthorized(app, bearer(token), /sub/i);
  });

  it('refuses tokens in the query string and says how to send them', async () => {
    const res = await request(`${app.url}/api/conversations?token=${valid()}`);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatch(/Authorization: Bearer/);
  });

  it('leaves public routes open', async () => {
    expect((await request(`${app.url}/`)).status).toBe(200);
    expect((await request(`${app.url}/api/health/live`)).status).toBe(200);
  });
});

describe('JWT authentication with an RS256 public key', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let app: TestApp;
  const user = newUserId();

  beforeAll(async () => {
    app = await startApp({ ...storageSetups()[0].env(), JWT_PUBLIC_KEY: publicPem });
  });
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  it('accepts RS256 tokens from the main backend', async () => {
    const token = jwt.sign({ sub: user }, privateKey, { algorithm: 'RS256', expiresIn: '1h' });
    expect((await request(`${app.url}/api/conversations`, { headers: bearer(token) })).status).toBe(
      200,
    );
  });

  it('refuses an HS256 token signed with the public key (algorithm confusion)', async () => {
    // jsonwebtoken refuses to sign with a PEM as an HMAC secret, so the token is assembled by hand.
    const { createHmac } = await import('node:crypto');
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: user, exp: now() + 3600 })}`;
    const signature = createHmac('sha256', publicPem).update(unsigned).digest('base64url');
    await expectUnauthorized(app, bearer(`${unsigned}.${signature}`), /algorithm|signature/i);
  });

  it('refuses an HS256 token signed with the development secret', async () => {
    await expectUnauthorized(app, bearer(signToken(user)), /algorithm|signature/i);
  });
});
