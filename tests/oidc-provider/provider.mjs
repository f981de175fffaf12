// A real OpenID provider (panva/oidc-provider) on loopback for Tandem's sign-in tests.
//
// Prints `ready <issuer>` on stdout once it listens. Environment:
//   PORT       port on 127.0.0.1 (default: any free one)
//   KEYS_FILE  signing keys (private JWKs), created on first start; reused after
//   ROTATE=1   put a new signing key first (the old one stays published)
//
// Clients (all native, public, PKCE):
//   tandem        the app as the rendezvous knows it
//   tandem-short  the same, but its ID tokens live 2 s (expiry tests)
//   other-app     an application the rendezvous must not accept tokens for
// Accounts: any login works at the development login form; these have names.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';

// Debian 12's Node.js is 18, where WebCrypto is not yet a global (oidc-provider's `jose`
// needs it): provide it before the provider loads.
if (!globalThis.crypto) globalThis.crypto = crypto.webcrypto;
const { default: Provider } = await import('oidc-provider');

const accounts = {
  anna: { given_name: 'Anna', family_name: 'Rossi', name: 'Anna Rossi', email: 'anna@example.org', email_verified: true },
  marco: { name: 'Marco Bianchi', email: 'marco@elsewhere.example', email_verified: true },
};

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

function signingKeys() {
  const file = process.env.KEYS_FILE;
  if (!file) return [newKey()];
  let keys = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [];
  if (keys.length === 0 || process.env.ROTATE === '1') keys = [newKey(), ...keys];
  fs.writeFileSync(file, JSON.stringify(keys));
  return keys;
}

const client = (client_id) => ({
  client_id,
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  // RFC 8252: any port on the loopback address is accepted for native clients.
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
});

const server = http.createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [client('tandem'), client('tandem-short'), client('other-app')],
    jwks: { keys: signingKeys() },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    // The name claims go into the ID token itself: the rendezvous sees only that.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...(accounts[id] || {}) }),
    }),
    issueRefreshToken: async (_ctx, c) => c.grantTypeAllowed('refresh_token'),
    ttl: {
      IdToken: (_ctx, _token, c) => (c && c.clientId === 'tandem-short' ? 2 : 3600),
      AccessToken: 3600,
      RefreshToken: 86400,
      DeviceCode: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 86400,
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log(`ready ${issuer}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
