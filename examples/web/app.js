// The items API's example web client. It signs in through the Cognito Hosted UI with the OAuth 2.0
// authorization code flow and PKCE (RFC 7636, S256), lists and creates the user's items with the
// ID token, shows the apigw-requestid of every answer, refreshes the ID token before it expires,
// and signs out. No build step and no library: fetch, WebCrypto and sessionStorage suffice.
//
// Its settings come from config.json beside it: the twin writes it at /app/config.json; against
// AWS it is written from `terraform output` (docs/deploy.md).

const SETTINGS = ["apiUrl", "authDomain", "clientId", "redirectUri", "logoutUri"];
// The app client's scopes (terraform/modules/auth: allowed_oauth_scopes).
const SCOPES = "openid email profile";
// Refresh the ID token this long before it expires, so no request leaves with a stale one.
const REFRESH_MARGIN_MS = 60_000;
const PAGE_SIZE = 20;
const STORED = {
  // The PKCE verifier, state and nonce of the sign-in under way: they must survive the trip to
  // the Hosted UI, and only for this tab (sessionStorage).
  signIn: "items-app.sign-in",
  // The tokens, for this tab only: they survive a reload, not the tab's closing.
  tokens: "items-app.tokens",
};

const $ = (id) => document.getElementById(id);

let config;
// The create being sent: its body and Idempotency-Key, kept until the API answers it, so that
// sending the same item again after a lost answer reuses the key and cannot create it twice.
let pendingCreate = null;
// The request id of each item created on this page, by item id.
const createdBy = new Map();
// The cursor of the next page of items, if any.
let nextCursor = null;
// One refresh at a time: concurrent requests wait for the same one.
let refreshing = null;

// ---------------------------------------------------------------- errors

/** An answer of the API that is not a success: a problem+json body, or API Gateway's own. */
class ApiError extends Error {
  constructor(status, requestId, body) {
    const problem = typeof body === "object" && body !== null ? body : {};
    super(problem.title ?? problem.message ?? `HTTP ${status}`);
    this.status = status;
    this.requestId = requestId;
    this.problem = problem;
  }
}

/** An error answer of the Hosted UI (RFC 6749: `error`, `error_description`). */
class OAuthError extends Error {
  constructor(code, description) {
    super(description ? `${code}: ${description}` : code);
    this.code = code;
  }
}

// ---------------------------------------------------------------- settings

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) {
    throw new Error(`config.json could not be read (HTTP ${response.status}): write it beside this page (docs/deploy.md).`);
  }
  const raw = await response.json();
  const loaded = {};
  for (const key of SETTINGS) {
    if (typeof raw[key] !== "string" || raw[key] === "") {
      // Without a registered logout URL, signing out forgets this page's tokens only.
      if (key === "logoutUri") continue;
      throw new Error(`config.json has no ${key}.`);
    }
    loaded[key] = raw[key];
  }
  // Base URLs without a trailing slash: paths are appended to them.
  loaded.apiUrl = loaded.apiUrl.replace(/\/+$/, "");
  loaded.authDomain = loaded.authDomain.replace(/\/+$/, "");
  return loaded;
}

// ---------------------------------------------------------------- encoding and PKCE

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `bytes` random bytes, base64url: 32 give the 43 characters of a PKCE verifier. */
function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 code challenge of a verifier: BASE64URL(SHA-256(verifier)). */
async function codeChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The claims of a JWT, unverified: the token came straight from the token endpoint over TLS
 * (OpenID Connect Core 3.1.3.7), and the API checks its signature on every request. */
function claimsOf(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// ---------------------------------------------------------------- tokens

function storedTokens() {
  return JSON.parse(sessionStorage.getItem(STORED.tokens) ?? "null");
}

/** Checks an ID token as OpenID Connect Core 3.1.3.7 asks of a client, and keeps the tokens. */
function keepTokens(answer, expectedNonce, previous) {
  if (typeof answer.id_token !== "string") throw new OAuthError("invalid_response", "no id_token");
  const claims = claimsOf(answer.id_token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(config.clientId)) throw new OAuthError("invalid_token", "the ID token is for another client");
  if (claims.token_use !== "id") throw new OAuthError("invalid_token", "not an ID token");
  if (expectedNonce !== null && claims.nonce !== expectedNonce) {
    throw new OAuthError("invalid_token", "the ID token's nonce is not this sign-in's");
  }
  if (claims.exp * 1000 <= Date.now()) throw new OAuthError("invalid_token", "the ID token has expired");
  const tokens = {
    idToken: answer.id_token,
    accessToken: answer.access_token,
    // A refresh answers no new refresh token unless the pool rotates them: keep the old one.
    refreshToken: answer.refresh_token ?? previous?.refreshToken,
    expiresAt: claims.exp * 1000,
    user: claims.email ?? claims["cognito:username"] ?? claims.sub,
  };
  sessionStorage.setItem(STORED.tokens, JSON.stringify(tokens));
  return tokens;
}

/** A POST to the Hosted UI's token endpoint, form-encoded, as RFC 6749 asks. */
async function tokenRequest(form) {
  const response = await fetch(`${config.authDomain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new OAuthError(body.error ?? `HTTP ${response.status}`, body.error_description);
  return body;
}

/** New ID and access tokens from the refresh token; signed out if it is no longer good. */
function refreshTokens() {
  refreshing ??= (async () => {
    const tokens = storedTokens();
    if (!tokens?.refreshToken) throw new Error("Not signed in.");
    try {
      const answer = await tokenRequest({
        grant_type: "refresh_token",
        client_id: config.clientId,
        refresh_token: tokens.refreshToken,
      });
      return keepTokens(answer, null, tokens);
    } catch (error) {
      if (error instanceof OAuthError && error.code === "invalid_grant") {
        sessionStorage.removeItem(STORED.tokens);
        render();
        throw new Error("Your session has ended: sign in again.");
      }
      throw error;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** The tokens, refreshed first if the ID token is about to expire. */
async function freshTokens() {
  const tokens = storedTokens();
  if (!tokens) throw new Error("Not signed in.");
  return tokens.expiresAt - REFRESH_MARGIN_MS > Date.now() ? tokens : refreshTokens();
}

// ---------------------------------------------------------------- sign-in and sign-out

/** Off to the Hosted UI, with a fresh state, nonce and PKCE verifier kept for the way back. */
async function signIn() {
  const started = { state: randomString(), nonce: randomString(), verifier: randomString() };
  sessionStorage.setItem(STORED.signIn, JSON.stringify(started));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: SCOPES,
    state: started.state,
    nonce: started.nonce,
    code_challenge: await codeChallenge(started.verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${config.authDomain}/oauth2/authorize?${query}`);
}

/** Back from the Hosted UI with `code` (or `error`) and `state`: exchanges the code. */
async function finishSignIn(params) {
  const started = JSON.parse(sessionStorage.getItem(STORED.signIn) ?? "null");
  sessionStorage.removeItem(STORED.signIn);
  // The code is single-use: keep it out of the address bar and the history.
  history.replaceState(null, "", location.pathname);
  if (!started || params.get("state") !== started.state) {
    throw new Error("This sign-in answer is not for a sign-in started on this page (state does not match): sign in again.");
  }
  if (params.has("error")) {
    throw new OAuthError(params.get("error"), params.get("error_description"));
  }
  const answer = await tokenRequest({
    grant_type: "authorization_code",
    client_id: config.clientId,
    code: params.get("code"),
    redirect_uri: config.redirectUri,
    code_verifier: started.verifier,
  });
  keepTokens(answer, started.nonce, null);
}

/** Forgets the tokens, revokes the refresh token, and signs out of the Hosted UI too. */
async function signOut() {
  const tokens = storedTokens();
  sessionStorage.removeItem(STORED.tokens);
  createdBy.clear();
  if (tokens?.refreshToken) {
    // The refresh token could mint tokens until it expires: revoke it. Its ID and access tokens
    // stay valid until they expire (the API checks signatures, not revocations).
    await fetch(`${config.authDomain}/oauth2/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: tokens.refreshToken, client_id: config.clientId }),
    }).catch(() => {});
  }
  if (config.logoutUri) {
    const query = new URLSearchParams({ client_id: config.clientId, logout_uri: config.logoutUri });
    location.assign(`${config.authDomain}/logout?${query}`);
  } else {
    render();
  }
}

// ---------------------------------------------------------------- the API

/** Calls the API with the ID token; one retry after a refresh if the token was refused. */
async function api(method, path, { body, idempotencyKey } = {}) {
  const send = (tokens) => {
    const headers = { Authorization: `Bearer ${tokens.idToken}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    return fetch(`${config.apiUrl}${path}`, { method, headers, body });
  };
  let response = await send(await freshTokens());
  if (response.status === 401) response = await send(await refreshTokens());
  const requestId = response.headers.get("apigw-requestid");
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the status and request id still say what happened.
  }
  showAnswer(method, path.split("?")[0], response, requestId);
  if (!response.ok) throw new ApiError(response.status, requestId, parsed);
  return { body: parsed, requestId };
}

async function listItems({ more = false } = {}) {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (more && nextCursor) query.set("cursor", nextCursor);
  const { body } = await api("GET", `/items?${query}`);
  nextCursor = body.next_cursor ?? null;
  showItems(body.items, { append: more });
}

async function createItem(form) {
  const item = { name: form.elements.name.value };
  const description = form.elements.description.value;
  if (description !== "") item.description = description;
  const body = JSON.stringify(item);
  if (pendingCreate?.body !== body) pendingCreate = { body, key: crypto.randomUUID() };
  try {
    const { body: created, requestId } = await api("POST", "/items", { body, idempotencyKey: pendingCreate.key });
    pendingCreate = null;
    createdBy.set(created.id, requestId);
    form.reset();
    setStatus(`Created “${created.name}”.`);
  } catch (error) {
    // An answer other than "in progress" settles the key; a lost answer or a 409 keeps it for
    // the retry.
    if (error instanceof ApiError && error.status !== 409) pendingCreate = null;
    throw error;
  }
  await listItems();
}

// ---------------------------------------------------------------- the page

function setStatus(text) {
  $("status").textContent = text;
}

function showError(error) {
  const box = $("error");
  box.replaceChildren();
  const title = document.createElement("p");
  title.className = "title";
  box.append(title);
  if (error instanceof ApiError) {
    title.textContent = `${error.message} (${error.status})`;
    const problem = error.problem;
    if (problem.detail) box.append(paragraph(problem.detail));
    if (Array.isArray(problem.errors) && problem.errors.length > 0) {
      const list = document.createElement("ul");
      for (const each of problem.errors) {
        const line = document.createElement("li");
        line.textContent = `${each.pointer ?? ""}: ${each.detail ?? ""}`;
        list.append(line);
      }
      box.append(list);
    }
    if (error.requestId) {
      const quote = paragraph("Request id: ");
      const code = document.createElement("code");
      code.dataset.requestId = error.requestId;
      code.textContent = error.requestId;
      quote.append(code);
      box.append(quote);
    }
  } else {
    title.textContent = error instanceof OAuthError ? `Sign-in failed: ${error.message}` : error.message;
  }
  box.hidden = false;
  setStatus("Something went wrong.");
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

function paragraph(text) {
  const p = document.createElement("p");
  p.textContent = text;
  return p;
}

/** One line in the answers list: method, path, status and the answer's apigw-requestid. */
function showAnswer(method, path, response, requestId) {
  const line = document.createElement("li");
  line.dataset.method = method;
  line.dataset.path = path;
  line.dataset.status = String(response.status);
  line.append(`${method} ${path} → ${response.status} ${response.statusText} · apigw-requestid `);
  const code = document.createElement("code");
  code.dataset.requestId = requestId ?? "";
  code.textContent = requestId ?? "(not readable: the API's CORS rules must expose it)";
  line.append(code);
  $("answers").prepend(line);
}

function showItems(items, { append }) {
  const rows = $("items").tBodies[0];
  if (!append) rows.replaceChildren();
  for (const item of items) {
    const row = rows.insertRow();
    row.dataset.itemId = item.id;
    row.insertCell().textContent = item.name;
    row.insertCell().textContent = item.description ?? "";
    const time = document.createElement("time");
    time.dateTime = item.created_at;
    time.textContent = new Date(item.created_at).toLocaleString();
    row.insertCell().append(time);
    const requestId = createdBy.get(item.id);
    const cell = row.insertCell();
    if (requestId) {
      const code = document.createElement("code");
      code.dataset.requestId = requestId;
      code.textContent = requestId;
      cell.append(code);
    } else {
      cell.textContent = "—";
    }
  }
  $("no-items").hidden = rows.rows.length > 0;
  $("more").hidden = nextCursor === null;
  setStatus(`${rows.rows.length} item${rows.rows.length === 1 ? "" : "s"} shown.`);
}

/** Shows the signed-in or signed-out part of the page. */
function render() {
  const tokens = storedTokens();
  $("account").hidden = !tokens;
  $("signed-in").hidden = !tokens;
  $("signed-out").hidden = Boolean(tokens);
  $("user").textContent = tokens?.user ?? "";
  document.body.dataset.state = tokens ? "signed-in" : "signed-out";
  if (!tokens) setStatus("Signed out.");
}

/** Runs a user's action: its error, if any, is shown; buttons wait while it runs. */
function action(run) {
  return async (event) => {
    event.preventDefault();
    clearError();
    document.body.setAttribute("aria-busy", "true");
    try {
      await run(event);
    } catch (error) {
      showError(error);
    } finally {
      document.body.removeAttribute("aria-busy");
    }
  };
}

async function main() {
  config = await loadConfig();
  if (!window.isSecureContext) {
    throw new Error("This page needs a secure context (https, or http://localhost) for WebCrypto.");
  }
  $("sign-in").addEventListener("click", action(signIn));
  $("sign-out").addEventListener("click", action(signOut));
  $("create").addEventListener("submit", action((event) => createItem(event.target)));
  $("reload").addEventListener("click", action(() => listItems()));
  $("more").addEventListener("click", action(() => listItems({ more: true })));

  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) await finishSignIn(params);
  render();
  if (storedTokens()) await listItems();
}

main().catch((error) => {
  // Without its settings the page cannot sign in: it shows the error alone.
  if (config) render();
  showError(error);
});
