/**
 * `npm run token -- --sub user-1 [--admin] [--ttl 1h] [--private-key key.pem]`
 * Prints a JWT the configured server accepts, for curl and wscat. HS256 with JWT_SECRET (or the
 * development secret); with JWT_PUBLIC_KEY set, pass the matching private key to sign RS256/ES256.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../src/config/app.config';

function main(): void {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '1h' },
      'private-key': { type: 'string' },
    },
  });
  if (!values.sub)
    throw new Error(
      'usage: npm run token -- --sub <user id> [--admin] [--ttl 1h] [--private-key file.pem]',
    );
  const { key, issuer, audience } = loadConfig().jwt;
  const payload = values.admin ? { roles: ['admin'] } : {};
  const options: jwt.SignOptions = {
    subject: values.sub,
    expiresIn: values.ttl as jwt.SignOptions['expiresIn'],
    algorithm: key.algorithm,
    ...(issuer && { issuer }),
    ...(audience && { audience }),
  };
  if (key.algorithm === 'HS256') {
    console.log(jwt.sign(payload, key.secret, options));
    return;
  }
  if (!values['private-key']) {
    throw new Error(
      `JWT_PUBLIC_KEY is set (${key.algorithm}): pass --private-key <file.pem> to sign, or use your main backend's tokens`,
    );
  }
  console.log(jwt.sign(payload, readFileSync(values['private-key'], 'utf8'), options));
}

try {
  main();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
