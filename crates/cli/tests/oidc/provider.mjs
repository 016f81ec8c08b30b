// The OpenID provider Tally's bearer-token tests run against (crates/cli/tests/bearer.rs):
// the certified `oidc-provider` on 127.0.0.1, issuing JWT access tokens by client
// credentials. Its own signing keys are made at start, so two instances never share one.
//
// Environment: TALLY_AUDIENCE, the resource (and `aud`) tokens are for by default.
// Standard output: `listening <issuer>` once it answers; `served keys` for each JWKS
// request; `rotated <kid>` after each `rotate` line on standard input, when tokens are
// signed with a new key (the old one stays published, as a provider rotating keys does);
// `pong` after each `ping` line (what was printed before it has been printed).
import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
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

function configuration(keys) {
  return {
    clients: [client('service'), client('expired'), client('elliptic')],
    scopes: ['openid', ...grantable],
    jwks: { keys },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
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
  provider = new Provider(issuer, configuration(keys));
  console.log(`listening ${issuer}`);
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'ping') console.log('pong');
    if (line.trim() !== 'rotate') return;
    const next = signingKey('rsa', { modulusLength: 2048 }, 'RS256');
    keys.unshift(next);
    provider = new Provider(issuer, configuration(keys));
    console.log(`rotated ${next.kid}`);
  });
});
