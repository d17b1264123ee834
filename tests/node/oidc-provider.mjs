// A real OpenID Connect provider (panva's oidc-provider) for Samen's login tests.
//
//   node tests/node/oidc-provider.mjs [--port N]
//
// Prints one line, "oidc-provider luistert op <issuer>", once it listens; everything
// else goes to stderr. Test-only control endpoints live under /__test/ (see below).
// Nothing here is fit for production: any password is accepted, all state is in memory.

import http from 'node:http';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import Provider from 'oidc-provider';

// The parent process reads stdout for the single "luistert op" line, but
// oidc-provider prints its development notices with console.info.
console.log = console.error;
console.info = console.error;

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const CLIENT_ID = 'samen';
const CLIENT_SECRET = 'samen-test-secret';
const TAMPER_MODES = ['wrong-issuer', 'wrong-audience', 'expired', 'wrong-nonce', 'bad-signature'];

// Samen's test servers listen on random loopback ports, so exact registration is impossible.
const LOOPBACK_CALLBACK = /^http:\/\/(127\.0\.0\.1|localhost):\d+\/api\/auth\/oidc\/callback$/;
const LOOPBACK_ANY_PATH = /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//;

// Claim names model the Flemish government's ACM/IDM.
const accounts = new Map(Object.entries({
  'an.school': person('An', 'Wouters', 'an.wouters@school.test', 'SCHOOL', '100001',
    ['Samenwerkingsdossier_school:100001']),
  'bart.clb': person('Bart', 'Maes', 'bart.maes@clb.test', 'CLB', '900001',
    ['Samenwerkingsdossier_clb:900001']),
  // 999999 is unknown to Samen, which must ignore it.
  'cor.twee': person('Cor', 'Jacobs', 'cor.jacobs@school.test', 'SCHOOL', '100001',
    ['Samenwerkingsdossier_school:100001,100002', 'Samenwerkingsdossier_school:999999']),
  'dirk.geenrol': person('Dirk', 'Peeters', 'dirk.peeters@school.test', 'SCHOOL', '100001', undefined),
  'eva.zonderemail': person('Eva', 'Smet', undefined, 'SCHOOL', '100001',
    ['Samenwerkingsdossier_school:100001']),
}));

function person(givenName, familyName, email, targetGroup, orgCode, roles) {
  const claims = {
    name: `${givenName} ${familyName}`,
    given_name: givenName,
    family_name: familyName,
    vo_doelgroepcode: targetGroup,
    vo_orgcode: orgCode,
  };
  if (email) Object.assign(claims, { email, email_verified: true });
  if (roles) claims.dv_samenwerkingsdossier_rol_3d = roles;
  return claims;
}

// Set by POST /__test/samen; read on every client lookup, so a change takes effect at once.
let backchannelLogoutUri;

function clientMetadata() {
  return {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    // oidc-provider accepts client_secret_post too for any client_secret_* client.
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
    // Placeholders only: redirectUriAllowed below is what decides.
    redirect_uris: ['http://127.0.0.1/api/auth/oidc/callback'],
    post_logout_redirect_uris: ['http://127.0.0.1/login'],
    ...(backchannelLogoutUri && {
      backchannel_logout_uri: backchannelLogoutUri,
      backchannel_logout_session_required: true,
    }),
  };
}

// A plain in-memory adapter instead of the built-in one, so that the client comes
// from the mutable metadata above and /__test/logout can find an account's sessions.
const store = new Map();
const latestSid = new Map(); // account id -> sid of that account's latest login at Samen

class TestAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async find(id) {
    if (this.model === 'Client') return id === CLIENT_ID ? clientMetadata() : undefined;
    return store.get(this.key(id));
  }

  async findByUid(uid) {
    return sessions().find((session) => session.uid === uid);
  }

  async findByUserCode() { return undefined; }

  async upsert(id, payload) {
    store.set(this.key(id), payload);
    const sid = payload.authorizations?.[CLIENT_ID]?.sid;
    if (this.model === 'Session' && payload.accountId && sid) latestSid.set(payload.accountId, sid);
  }

  async consume(id) {
    const payload = store.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) { revokeGrant(grantId); }
}

function revokeGrant(grantId) {
  for (const [key, payload] of store) if (payload.grantId === grantId) store.delete(key);
  store.delete(`Grant:${grantId}`);
}

function sessions() {
  return [...store].filter(([key]) => key.startsWith('Session:')).map(([, payload]) => payload);
}

// Our own key, so tampered ID tokens can carry a signature that really verifies.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...await exportJWK(privateKey), kid: 'samen-test', alg: 'RS256', use: 'sig' };

let lastDeliveryStatus; // what Samen answered to the latest back-channel logout token
let tokenMode = null; // see POST /__test/mode

// Listen first: with --port 0 the issuer is only known once the port is.
const server = http.createServer();
await new Promise((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  adapter: TestAdapter,
  jwks: { keys: [signingJwk] },
  // The dev login form accepts any name; an unknown one logs in with nothing but a sub
  // (oidc-provider cannot handle a logged-in session without an account).
  async findAccount(ctx, id) {
    return { accountId: id, claims: () => ({ ...accounts.get(id), sub: id }) };
  },
  claims: {
    acr: null,
    auth_time: null,
    iss: null,
    sid: null,
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
    samen: ['vo_doelgroepcode', 'vo_orgcode', 'dv_samenwerkingsdossier_rol_3d'],
  },
  scopes: ['openid', 'profile', 'email', 'samen'],
  // Samen reads everything from the ID token, never from userinfo.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  // No consent screen: every login gets a grant for everything this provider can release.
  async loadExistingGrant(ctx) {
    const { Grant } = ctx.oidc.provider;
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    const existing = grantId && await Grant.find(grantId);
    if (existing) return existing;
    const grant = new Grant({ accountId: ctx.oidc.session.accountId, clientId: ctx.oidc.client.clientId });
    grant.addOIDCScope('openid profile email samen');
    grant.addOIDCClaims(['sub', 'name', 'given_name', 'family_name', 'email', 'email_verified',
      'vo_doelgroepcode', 'vo_orgcode', 'dv_samenwerkingsdossier_rol_3d']);
    await grant.save();
    return grant;
  },
  // oidc-provider refuses outgoing requests to loopback addresses (SSRF protection),
  // but Samen's back-channel logout endpoint is exactly there.
  async fetch(url, { dispatcher, ...options }) {
    const response = await fetch(url, options);
    lastDeliveryStatus = response.status;
    return response;
  },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // The confirmation page answers itself in a browser; clients without
      // JavaScript POST the form with logout=yes (the button's name and value).
      async logoutSource(ctx, form) {
        ctx.body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Afmelden</title></head>
<body>
  ${form}
  <button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
  <script>document.querySelector('button[name=logout]').click();</script>
</body></html>`;
      },
    },
  },
});

provider.Client.prototype.redirectUriAllowed = (uri) => LOOPBACK_CALLBACK.test(uri);
provider.Client.prototype.postLogoutRedirectUriAllowed = (uri) => LOOPBACK_ANY_PATH.test(uri);
// By default sid is only in ID tokens once a back-channel URI is registered; Samen
// learns that URI only after its first login, and wants sid in every ID token.
provider.Client.prototype.includeSid = () => true;

provider.on('server_error', (ctx, error) => console.error('server_error', error));
provider.on('backchannel.error', (ctx, error) => console.error('backchannel.error', error.message));

// oidc-provider's built-in pages @import Google Fonts; tests must not reach off this machine,
// so the browser may load nothing but this server's own (and inline) resources.
provider.use(async (ctx, next) => {
  ctx.set('content-security-policy', "default-src 'self' 'unsafe-inline'");
  await next();
});

// Tampered ID tokens that only Samen's claim checks (not its signature check) can catch.
provider.use(async (ctx, next) => {
  await next();
  if (tokenMode && ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, tokenMode) };
  }
});

async function tamper(idToken, mode) {
  if (mode === 'bad-signature') {
    const [header, payload, signature] = idToken.split('.');
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0] ^= 0xff;
    bytes[bytes.length - 1] ^= 0xff;
    return `${header}.${payload}.${bytes.toString('base64url')}`;
  }
  const claims = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  const changes = {
    'wrong-issuer': { iss: `${issuer}/anders` },
    'wrong-audience': { aud: 'iemand-anders' },
    expired: { iat: now - 3660, exp: now - 3600 },
    'wrong-nonce': { nonce: 'vervalst' },
  }[mode];
  return new SignJWT({ ...claims, ...changes })
    .setProtectedHeader(decodeProtectedHeader(idToken))
    .sign(privateKey);
}

// Ends an account's sessions and tells Samen through the client's real back-channel logout.
async function logoutAccount(accountId) {
  for (const session of sessions().filter((s) => s.accountId === accountId)) {
    for (const { grantId } of Object.values(session.authorizations ?? {})) revokeGrant(grantId);
    store.delete(`Session:${session.jti}`);
  }
  const sid = latestSid.get(accountId);
  if (!sid) return [409, { error: `no login of ${accountId} at ${CLIENT_ID} is known` }];
  if (!backchannelLogoutUri) return [409, { error: 'POST /__test/samen first' }];
  const client = await provider.Client.find(CLIENT_ID);
  try {
    await client.backchannelLogout(accountId, sid);
  } catch (error) {
    if (!error.response) return [502, { error: error.message, sid }];
  }
  return [lastDeliveryStatus, { status: lastDeliveryStatus, sub: accountId, sid }];
}

async function handleTestRequest(req) {
  const body = await readJson(req);
  const [, , resource, id] = req.url.split('/').map(decodeURIComponent);
  const route = `${req.method} ${resource}`;
  if (route === 'GET health') return [204];
  if (route === 'PUT accounts' && id) {
    accounts.set(id, body);
    return [204];
  }
  if (route === 'POST samen') {
    backchannelLogoutUri = body.origin
      ? new URL('/api/auth/oidc/backchannel-logout', body.origin).href
      : undefined;
    return [200, { backchannel_logout_uri: backchannelLogoutUri ?? null }];
  }
  if (route === 'POST mode') {
    if (body.mode != null && !TAMPER_MODES.includes(body.mode)) {
      return [400, { error: `mode must be null or one of ${TAMPER_MODES.join(', ')}` }];
    }
    tokenMode = body.mode ?? null;
    return [204];
  }
  if (route === 'POST logout' && id) return logoutAccount(id);
  return [404, { error: `unknown test endpoint ${req.method} ${req.url}` }];
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

const providerCallback = provider.callback();
server.on('request', (req, res) => {
  if (!req.url.startsWith('/__test/')) {
    providerCallback(req, res);
    return;
  }
  handleTestRequest(req).then(([status, json]) => {
    if (status === 204 || json === undefined) {
      res.writeHead(status).end();
    } else {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    }
  }, (error) => {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: error.message }));
  });
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

process.stdout.write(`oidc-provider luistert op ${issuer}\n`);
