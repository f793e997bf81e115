// TinyShop local OIDC provider: oauth2-mock-server behind an issuer with a path segment.
//
// Stands in for Entra External ID on a developer machine and in tests
// (docs/architecture.md, "Local stand-ins"):
//   * HTTPS only: MSAL's `oidc_authority` requires https and at least one path segment.
//   * Issuer https://127.0.0.1:8443/tinyshop/v2.0 ; every endpoint lives below it, so
//     `<issuer>/.well-known/openid-configuration` is what MSAL fetches.
//   * Entra-shaped tokens: access tokens carry aud = the API, scp = delegated scopes,
//     sub/oid = a uuid5 of the local user name; ID tokens carry aud = the client and nonce.
//   * Sign-in without a password: /authorize shows a one-field form ("who are you?") unless
//     the request has login_hint. PKCE (S256) is mandatory, as Entra requires of SPAs.
//   * `grant_type=password` (username only) gives CLI tokens (`make token USER=alice`).
//
// Started by launcher.py (which makes the certificates); run by hand with
//   node server.js --cert CERT --key KEY [--host 127.0.0.1] [--port 8443] [--key-file F]
// Options but --issuer also read TINYSHOP_OIDC_HOST/_PORT/_CERT/_KEY/_SIGNING_KEY_FILE; the
// API is TINYSHOP_OIDC_AUDIENCE/_SCOPES. Port 0 picks a free port; the issuer follows the
// bound port unless --issuer fixes it (TINYSHOP_OIDC_ISSUER is for clients: dev.token).

import { createHash, createPublicKey, randomUUID, verify as verifySignature } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:https';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`tinyshop-oidc: Node >= 20.19 required, this is ${process.versions.node}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------- settings
const env = process.env;
const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: env.TINYSHOP_OIDC_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: env.TINYSHOP_OIDC_PORT ?? '8443' },
    cert: { type: 'string', default: env.TINYSHOP_OIDC_CERT },
    key: { type: 'string', default: env.TINYSHOP_OIDC_KEY },
    issuer: { type: 'string' },
    'key-file': { type: 'string', default: env.TINYSHOP_OIDC_SIGNING_KEY_FILE },
  },
});
if (!opts.cert || !opts.key) {
  console.error('tinyshop-oidc: --cert and --key (or TINYSHOP_OIDC_CERT/_KEY) are required');
  process.exit(2);
}
const AUDIENCE = env.TINYSHOP_OIDC_AUDIENCE ?? 'api://tinyshop-orders';
// Delegated scopes the API exposes (Entra: "Expose an API" > scopes), space-separated.
const API_SCOPES = (env.TINYSHOP_OIDC_SCOPES ?? 'Orders.ReadWrite').split(/\s+/).filter(Boolean);
const TENANT_ID = '3c1b8f0e-7d2a-5e4b-9c6d-0a1b2c3d4e5f'; // fixed, fake "tid" of the local tenant
const EMAIL_DOMAIN = 'tinyshop.test'; // RFC 2606 reserved: never a real mailbox
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

// ---------------------------------------------------------------------------- local users
// Stable subject for a user name: uuid5(NAMESPACE_URL, "urn:tinyshop:local-user:<name>"),
// i.e. Python's uuid.uuid5(uuid.NAMESPACE_URL, ...) (tests/support/oidc.py subject_for()).
const NAMESPACE_URL = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');
function uuid5(name) {
  const hash = createHash('sha1').update(NAMESPACE_URL).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8] & 0x3f) | 0x80; // RFC 4122 variant
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function normalizeUser(raw) {
  const user = String(raw ?? '').trim().toLowerCase();
  return USERNAME.test(user) ? user : undefined;
}

function userClaims(user) {
  const id = uuid5(`urn:tinyshop:local-user:${user}`);
  const email = `${user}@${EMAIL_DOMAIN}`;
  const name = user.charAt(0).toUpperCase() + user.slice(1);
  return { sub: id, oid: id, tid: TENANT_ID, name, preferred_username: email, email };
}

// Who a token request is for: the code's user, the refresh token's user, or `username`.
const codeUsers = new Map(); // authorization code -> user (set at /authorize)
const refreshUsers = new Map(); // refresh token -> user (set when tokens are issued)
function remember(map, key, user) {
  map.set(key, user);
  if (map.size > 10000) map.delete(map.keys().next().value); // bounded: oldest goes first
}
function tokenRequestUser(body) {
  if (body.grant_type === 'authorization_code') return codeUsers.get(body.code);
  if (body.grant_type === 'refresh_token') return refreshUsers.get(body.refresh_token);
  if (body.grant_type === 'password') return normalizeUser(body.username);
  return undefined;
}

// Entra-style resource scopes: "api://tinyshop-orders/Orders.ReadWrite openid profile".
// Returns {audience, scp, granted} or {error}. Without a resource scope the token is for
// the TinyShop API with all its scopes (handy for `make token`).
function resolveScopes(requested) {
  const resource = String(requested ?? '')
    .split(/\s+/)
    .filter((s) => s && !OIDC_SCOPES.has(s));
  if (resource.length === 0) {
    return { audience: AUDIENCE, scp: API_SCOPES, granted: API_SCOPES.map((s) => `${AUDIENCE}/${s}`) };
  }
  const scp = [];
  for (const scope of resource) {
    const cut = scope.lastIndexOf('/');
    const audience = cut > 0 ? scope.slice(0, cut) : AUDIENCE;
    const name = scope.slice(cut + 1);
    if (audience !== AUDIENCE || !API_SCOPES.includes(name)) {
      return { error: `The scope '${scope}' does not exist (API: ${AUDIENCE}, scopes: ${API_SCOPES.join(' ')})` };
    }
    scp.push(name);
  }
  return { audience: AUDIENCE, scp, granted: scp.map((s) => `${AUDIENCE}/${s}`) };
}

// ---------------------------------------------------------------------------- the mock
const issuer = new OAuth2Issuer(false); // false: the issuer URL never ends with "/"
const service = new OAuth2Service(issuer);

// Signing key: reused across restarts when a key file is given, so tokens (and JWKS that
// APIs cached) survive a restart of `make dev`. Written atomically with mode 0600.
async function loadSigningKey(file) {
  if (file) {
    try {
      await issuer.keys.add(JSON.parse(readFileSync(file, 'utf8')));
      return;
    } catch (err) {
      if (err.code !== 'ENOENT') console.error(`tinyshop-oidc: ignoring unreadable key file ${file}: ${err.message}`);
    }
  }
  const jwk = await issuer.keys.generate('RS256');
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(jwk), { mode: 0o600 });
    renameSync(tmp, file);
  }
}

// Shape every token like Entra's. The mock calls this for the access token and then the ID
// token of the same request: access tokens are the ones whose payload has a `scope` key.
service.on('beforeTokenSigning', (token, req) => {
  const body = req.body ?? {};
  const user = tokenRequestUser(body);
  if (!user) return; // refused in beforeResponse
  const p = token.payload;
  Object.assign(p, userClaims(user), { ver: '2.0' });
  if ('scope' in p) {
    const scopes = resolveScopes(body.scope);
    delete p.scope; // Entra: delegated scopes are in `scp`, space-separated
    delete p.amr;
    Object.assign(p, { aud: scopes.audience, scp: (scopes.scp ?? []).join(' '), azp: clientId(req) });
    for (const [name, value] of Object.entries(overrides(body))) {
      if (value === null) delete p[name];
      else p[name] = value;
    }
  } else {
    p.auth_time = p.iat;
  }
});

// Test hook: `tinyshop_claims` (a JSON object) overrides access-token claims, null deletes
// one. Malformed values are refused in beforeResponse.
function overrides(body) {
  if (!body.tinyshop_claims) return {};
  try {
    const claims = JSON.parse(body.tinyshop_claims);
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? claims : {};
  } catch {
    return {};
  }
}

function clientId(req) {
  const auth = req.headers.authorization ?? '';
  if (auth.startsWith('Basic ')) {
    // RFC 6749 §2.3.1: the client id is form-urlencoded before Basic encoding (MSAL does so).
    const name = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0];
    try {
      return decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      return name;
    }
  }
  return req.body?.client_id;
}

// Refuse what Entra would refuse; the mock itself accepts almost anything.
service.on('beforeResponse', (response, req) => {
  const body = req.body ?? {};
  const fail = (error, description) => {
    response.statusCode = 400;
    response.body = { error, error_description: description };
  };
  if (!['authorization_code', 'refresh_token', 'password'].includes(body.grant_type)) {
    return fail('unsupported_grant_type', `grant_type '${body.grant_type}' is not supported here`);
  }
  // The mock checks a code_verifier only when one is sent: require it (PKCE is mandatory).
  if (body.grant_type === 'authorization_code' && !body.code_verifier) {
    return fail('invalid_grant', 'PKCE is required: code_verifier is missing');
  }
  const user = tokenRequestUser(body);
  if (!user) {
    return fail('invalid_grant', body.grant_type === 'password'
      ? `username must match ${USERNAME}` : 'unknown or already used code / refresh token');
  }
  const scopes = resolveScopes(body.scope);
  if (scopes.error) return fail('invalid_scope', scopes.error);
  if (body.tinyshop_claims) {
    try {
      const claims = JSON.parse(body.tinyshop_claims);
      if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('not an object');
    } catch (err) {
      return fail('invalid_request', `tinyshop_claims must be a JSON object (${err.message})`);
    }
  }
  if (body.grant_type === 'authorization_code') codeUsers.delete(body.code); // one use only
  if (body.grant_type === 'refresh_token') refreshUsers.delete(body.refresh_token); // rotated
  if (response.body.refresh_token) remember(refreshUsers, response.body.refresh_token, user);
  response.body.scope = [...scopes.granted, ...String(body.scope ?? '').split(/\s+/).filter((s) => OIDC_SCOPES.has(s))].join(' ');
});

// The code the mock issues belongs to the user chosen on the form (login_hint).
// response_mode=form_post (Entra supports it, MSAL recommends it): the browser goes to our
// /form_post page instead, which POSTs code and state to the redirect_uri. The mock
// redirects to this very URL object, so it is changed in place.
const pendingPosts = new Map(); // one-time id -> redirect_uri with code and state
service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  const user = normalizeUser(req.query.login_hint);
  if (code && user) remember(codeUsers, code, user);
  if (req.query.response_mode === 'form_post') {
    const id = randomUUID();
    remember(pendingPosts, id, redirect.url.href);
    redirect.url.href = `${issuer.url}/form_post?id=${id}`;
  }
});

// Userinfo for the bearer token's user (the mock answers {sub: "johndoe"} otherwise).
service.on('beforeUserinfo', (response, req) => {
  const claims = verifiedClaims((req.headers.authorization ?? '').replace(/^Bearer\s+/i, ''));
  if (!claims) {
    response.statusCode = 401;
    response.body = { error: 'invalid_token' };
    return;
  }
  const { sub, oid, tid, name, preferred_username, email } = claims;
  response.body = { sub, oid, tid, name, preferred_username, email };
});

function verifiedClaims(jwt) {
  const [header, payload, signature] = jwt.split('.');
  if (!signature) return undefined;
  try {
    const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString());
    const jwk = issuer.keys.toJSON().find((k) => k.kid === kid);
    const ok = jwk && verifySignature('sha256', Buffer.from(`${header}.${payload}`),
      createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    return ok && claims.exp > Date.now() / 1000 ? claims : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------- front door
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendHtml(res, status, title, body, csp = "form-action 'self'") {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; ${csp}`,
  });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}
input,button{font-size:1rem;padding:.4rem}</style></head><body>${body}</body></html>`);
}

// The sign-in form re-submits every authorize parameter plus the chosen login_hint.
// Browsers apply CSP form-action to the redirects that follow a submit too, so the policy must
// also allow the client's redirect_uri origin (validated as http(s) by the caller).
function signInForm(res, prefix, query, error) {
  const client = new URL(query.get('redirect_uri')).origin;
  const hidden = [...query]
    .filter(([name]) => name !== 'login_hint')
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  sendHtml(res, error ? 400 : 200, 'TinyShop local sign-in', `<h1>TinyShop local sign-in</h1>
<p>Local development identity provider: pick any user name, no password.</p>
${error ? `<p role="alert" style="color:#b00">${escapeHtml(error)}</p>` : ''}
<form method="get" action="${escapeHtml(`${prefix}/authorize`)}">
${hidden}
<label>User name <input name="login_hint" autofocus required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}" placeholder="alice"></label>
<button type="submit">Sign in</button>
</form>`, `form-action 'self' ${client}`);
}

// The auto-submitting form of response_mode=form_post (OAuth 2.0 Form Post Response Mode).
function formPost(res, id) {
  const target = pendingPosts.get(id);
  pendingPosts.delete(id);
  if (!target) return sendHtml(res, 400, 'Expired', '<p>Unknown or used sign-in response.</p>');
  const url = new URL(target);
  const fields = [...url.searchParams]
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  url.search = '';
  sendHtml(res, 200, 'Signing in', `<form method="post" action="${escapeHtml(url.href)}">
${fields}
<noscript><button type="submit">Continue</button></noscript></form>
<script>document.forms[0].submit()</script>`, `script-src 'unsafe-inline'; form-action ${url.origin}`);
}

// This server's discovery document (the mock's advertises grants and PKCE methods that the
// launcher refuses, and no form_post).
function discovery() {
  const at = (path) => `${issuer.url}${path}`;
  return {
    issuer: issuer.url,
    authorization_endpoint: at('/authorize'),
    token_endpoint: at('/token'),
    userinfo_endpoint: at('/userinfo'),
    jwks_uri: at('/jwks'),
    end_session_endpoint: at('/endsession'),
    revocation_endpoint: at('/revoke'),
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'form_post'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'password'],
    code_challenge_methods_supported: ['S256'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    scopes_supported: [...OIDC_SCOPES, ...API_SCOPES.map((name) => `${AUDIENCE}/${name}`)],
    claims_supported: ['sub', 'oid', 'tid', 'iss', 'aud', 'exp', 'nbf', 'iat', 'auth_time',
      'nonce', 'name', 'preferred_username', 'email', 'scp', 'azp', 'ver'],
  };
}

// Redirect an authorization error back to the client (RFC 6749 §4.1.2.1, RFC 7636 §4.4.1).
function authorizeError(res, query, error, description) {
  const target = new URL(query.get('redirect_uri'));
  target.searchParams.set('error', error);
  target.searchParams.set('error_description', description);
  if (query.get('state')) target.searchParams.set('state', query.get('state'));
  res.writeHead(302, { location: target.href, 'cache-control': 'no-store' });
  res.end();
}

function handle(req, res, prefix) {
  const url = new URL(req.url, 'https://localhost');
  if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not_found', issuer: issuer.url }));
    return;
  }
  const path = url.pathname.slice(prefix.length) || '/';
  const query = url.searchParams;

  if (path === '/authorize' && req.method === 'GET') {
    let redirectUri;
    try {
      redirectUri = new URL(query.get('redirect_uri'));
    } catch {
      return sendHtml(res, 400, 'Bad request', '<p>redirect_uri is missing or not a URL.</p>');
    }
    if (!['http:', 'https:'].includes(redirectUri.protocol)) {
      return sendHtml(res, 400, 'Bad request', '<p>redirect_uri must be http(s).</p>');
    }
    if (!query.get('code_challenge')) {
      return authorizeError(res, query, 'invalid_request', 'PKCE is required: code_challenge is missing');
    }
    if (query.get('code_challenge_method') !== 'S256') {
      return authorizeError(res, query, 'invalid_request', 'code_challenge_method must be S256');
    }
    if (!['query', 'form_post'].includes(query.get('response_mode') ?? 'query')) {
      return authorizeError(res, query, 'invalid_request', 'response_mode must be query or form_post');
    }
    if (!query.has('login_hint')) return signInForm(res, prefix, query);
    if (!normalizeUser(query.get('login_hint'))) {
      return signInForm(res, prefix, query, 'User names are letters, digits, ".", "_" or "-" (at most 64).');
    }
  }
  if (path === '/.well-known/openid-configuration' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    return res.end(JSON.stringify(discovery()));
  }
  if (path === '/form_post' && req.method === 'GET') return formPost(res, query.get('id'));
  if (path === '/endsession' && req.method === 'GET' && !query.get('post_logout_redirect_uri')) {
    return sendHtml(res, 200, 'Signed out', '<p>You are signed out of the TinyShop local identity provider.</p>');
  }
  // Everything else is the mock's, which routes at "/".
  req.url = path + url.search;
  service.requestHandler(req, res);
}

// ---------------------------------------------------------------------------- start
await loadSigningKey(opts['key-file']);
let prefix = '';
const server = createServer(
  { key: readFileSync(opts.key), cert: readFileSync(opts.cert) },
  (req, res) => {
    const started = Date.now();
    const path = req.url.split('?')[0]; // logged without the query: it carries codes and hints
    res.on('finish', () => console.log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`));
    handle(req, res, prefix);
  },
);
server.on('error', (err) => {
  console.error(`tinyshop-oidc: cannot listen on ${opts.host}:${opts.port}: ${err.message}`);
  process.exit(1);
});
server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  issuer.url = opts.issuer ?? `https://${hostForUrl}:${port}/tinyshop/v2.0`;
  prefix = new URL(issuer.url).pathname.replace(/\/$/, '');
  if (!prefix) {
    console.error('tinyshop-oidc: the issuer needs a path segment (MSAL oidc_authority requires one)');
    process.exit(2);
  }
  // launcher.py waits for this exact line.
  console.log(`tinyshop-oidc listening port=${port} issuer=${issuer.url}`);
});
// Stop promptly on Ctrl-C / the supervisor / tests: open connections are dropped, not drained.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
