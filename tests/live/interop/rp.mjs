// A relying party written with the npm `openid-client` package (v6 API), driven by
// tests/live/test_openid_client.py. The browser part (login page, consent) is done by the Python
// test; this script does everything a Node.js portal would do with the library.
//
//   node rp.mjs start  < {"issuer", "client_id", "client_secret", "redirect_uri", "scope"}
//     -> {"authorization_url", "code_verifier", "state", "nonce"}
//   node rp.mjs finish < {..., "callback_url", "code_verifier", "state", "nonce", "post_logout_redirect_uri"}
//     -> {"claims", "userinfo", "token", "refreshed", "refreshed_claims", "end_session_url"}
//
// Every failure (discovery, state/nonce/PKCE/ID token validation, HTTP errors) exits non-zero
// with the library's error code and message on stderr.
import * as oidc from 'openid-client'

async function readInput() {
  let data = ''
  for await (const chunk of process.stdin) data += chunk
  return JSON.parse(data)
}

async function configure(input) {
  // Plain HTTP is only allowed because the provider under test listens on loopback.
  return oidc.discovery(new URL(input.issuer), input.client_id, undefined,
    oidc.ClientSecretBasic(input.client_secret), { execute: [oidc.allowInsecureRequests] })
}

async function start(input) {
  const config = await configure(input)
  const code_verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: input.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  return { authorization_url: url.href, code_verifier, state, nonce }
}

async function finish(input) {
  const config = await configure(input)
  const tokens = await oidc.authorizationCodeGrant(config, new URL(input.callback_url), {
    pkceCodeVerifier: input.code_verifier,
    expectedState: input.state,
    expectedNonce: input.nonce,
    idTokenExpected: true,
  })
  const claims = tokens.claims()
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token)
  const end_session_url = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: input.post_logout_redirect_uri,
    state: 'bye',
  })
  return {
    claims,
    userinfo,
    token: { token_type: tokens.token_type, expires_in: tokens.expiresIn(), scope: tokens.scope,
             has_refresh_token: Boolean(tokens.refresh_token), access_token: tokens.access_token,
             refresh_token: tokens.refresh_token },
    refreshed: { access_token: refreshed.access_token, refresh_token: refreshed.refresh_token,
                 has_id_token: Boolean(refreshed.id_token) },
    refreshed_claims: refreshed.id_token ? refreshed.claims() : null,
    end_session_url: end_session_url.href,
  }
}

const modes = { start, finish }
const mode = modes[process.argv[2]]
if (!mode) {
  process.stderr.write('usage: node rp.mjs start|finish < input.json\n')
  process.exit(2)
}
try {
  process.stdout.write(JSON.stringify(await mode(await readInput())) + '\n')
} catch (err) {
  process.stderr.write(`${err.name} ${err.code ?? ''}: ${err.message}\n`)
  for (let cause = err.cause; cause; cause = cause.cause) {
    process.stderr.write(`cause: ${cause.name ?? ''} ${cause.code ?? ''}: ${cause.message ?? JSON.stringify(cause)}\n`)
  }
  process.exit(1)
}
