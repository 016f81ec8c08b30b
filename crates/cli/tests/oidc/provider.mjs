// The OpenID provider Tally's bearer-token and sign-in tests run against
// (crates/cli/tests/bearer.rs, sign_in.rs): the certified `oidc-provider` on 127.0.0.1,
// issuing JWT access tokens by client credentials, and signing people in through its
// development login and consent pages (any login name, any password). Its own signing keys
// are made at start, so two instances never share one.
//
// Environment: TALLY_AUDIENCE, the resource (and `aud`) client-credentials tokens are for
// by default.
// Standard input, a command a line:
//   `rotate`: sign with a new key (the old one stays published, as a provider rotating
//     keys does); answers `rotated <kid>`.
//   `client <json>`: registers an authorization-code client; answers `client <id>`. The
//     ID tokens of client `tampered` have their claims changed after signing; those of
//     client `stale` are signed as having run out an hour ago.
//   `account <id> <json>`: the claims (name, email, groups) of the person who signs in
//     as <id>; answers `account <id>`.
//   `ping`: answers `pong` (what was printed before it has been printed).
// Standard output: `listening <issuer>` once it answers, `served keys` for each JWKS
// request, and the answers above.
import http from 'node:http';
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import readline from 'node:readline';
import Provider from 'oidc-provider';

const audience = process.env.TALLY_AUDIENCE;
const grantable = ['tally:statements/write', 'tally:statements/read', 'tally:all', 'tally:admin'];

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

// Every client may ask for every Tally scope; what it asks for is what the token carries.
function client(client_id) {
  return {
    client_id,
    client_secret: `${client_id}-secret`,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: grantable.join(' '),
  };
}

const signInClients = [];
const accounts = {};

function configuration(keys) {
  return {
    clients: [client('service'), client('expired'), client('elliptic'), ...signInClients],
    scopes: ['openid', ...grantable],
    claims: { openid: ['sub'], email: ['email'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    jwks: { keys },
    findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id, ...(accounts[id] ?? {}) }) }),
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Sign-ins get no resource: their access token is for the userinfo endpoint.
        defaultResource: (ctx, client) => (client.grantTypes.includes('client_credentials') ? audience : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, { clientId }) => ({
          scope: grantable.join(' '),
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: clientId === 'elliptic' ? 'ES256' : 'RS256' } },
        }),
      },
    },
    formats: {
      customizers: {
        // The `expired` client's tokens ran out an hour ago: an expired token without waiting.
        jwt(ctx, token, jwt) {
          if (token.clientId === 'expired') {
            jwt.payload.iat -= 7200;
            jwt.payload.exp = jwt.payload.iat + 3600;
          }
        },
      },
    },
  };
}

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unb64 = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());

// What the `tampered` and `stale` clients get instead of the ID token issued.
function spoiled(idToken) {
  const [header, payload, signature] = idToken.split('.');
  const claims = unb64(payload);
  if (claims.aud === 'tampered') return `${header}.${b64({ ...claims, sub: 'someone-else' })}.${signature}`;
  if (claims.aud !== 'stale') return idToken;
  const input = `${header}.${b64({ ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 })}`;
  const key = keys.find((k) => k.kid === unb64(header).kid);
  const signed = sign('sha256', Buffer.from(input), createPrivateKey({ key, format: 'jwk' }));
  return `${input}.${signed.toString('base64url')}`;
}

function build(issuer) {
  const built = new Provider(issuer, configuration(keys));
  built.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
      ctx.body = { ...ctx.body, id_token: spoiled(ctx.body.id_token) };
    }
  });
  return built;
}

const keys = [
  signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
  signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
];
let provider;
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/jwks')) console.log('served keys');
  provider.callback()(req, res);
});
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = build(issuer);
  console.log(`listening ${issuer}`);
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, ...rest] = line.trim().split(' ');
    if (command === 'ping') console.log('pong');
    if (command === 'rotate') {
      const next = signingKey('rsa', { modulusLength: 2048 }, 'RS256');
      keys.unshift(next);
      provider = build(issuer);
      console.log(`rotated ${next.kid}`);
    }
    if (command === 'client') {
      const registered = JSON.parse(rest.join(' '));
      signInClients.push({ grant_types: ['authorization_code'], response_types: ['code'], ...registered });
      provider = build(issuer);
      console.log(`client ${registered.client_id}`);
    }
    if (command === 'account') {
      accounts[rest[0]] = JSON.parse(rest.slice(1).join(' '));
      console.log(`account ${rest[0]}`);
    }
  });
});
