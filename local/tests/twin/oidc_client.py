"""Signs in to the twin's Hosted UI with authlib, an OIDC client library this project did not
write, as a web app would: discovery, the authorization code with PKCE (S256), state and nonce,
the token exchange, the API with the ID token, refresh, userInfo, revocation and sign-out, and
what must be refused (a code used twice, a wrong verifier, an unregistered redirect).

Run by local/tests/twin/oidc.rs against a twin it started. Prints each step, never a token.
"""

import argparse
import html
import re
import sys
import warnings
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

# authlib's JOSE module is deprecated in favour of joserfc but still carries the OIDC claim
# checks (nonce, at_hash) used here.
warnings.filterwarnings("ignore", module="authlib")
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

TIMEOUT = 30


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def step(name):
    print(f"ok: {name}", flush=True)


def error_of(call):
    """The OAuth error code a call of the library raised, or None if it did not raise."""
    try:
        call()
    except Exception as e:  # authlib raises its OAuthError; only its code is looked at
        return getattr(e, "error", type(e).__name__)
    return None


class Flow:
    def __init__(self, twin, client_id, callback, logout):
        self.twin = twin
        self.client_id = client_id
        self.callback = callback
        self.logout = logout
        self.issuer = f"{twin}/_twin/issuer"

    def discover(self):
        r = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
        check(r.status_code == 200, f"discovery: {r.status_code}")
        doc = r.json()
        check(doc["issuer"] == self.issuer, f"issuer {doc['issuer']}")
        for name in ["authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                     "revocation_endpoint", "end_session_endpoint", "jwks_uri"]:
            check(doc.get(name, "").startswith(self.twin), f"{name}: {doc.get(name)}")
        check("code" in doc["response_types_supported"], "response type code")
        check("S256" in doc["code_challenge_methods_supported"], "PKCE S256")
        self.doc = doc
        keys = requests.get(doc["jwks_uri"], timeout=TIMEOUT)
        check(keys.status_code == 200, f"jwks: {keys.status_code}")
        self.jwks = JsonWebKey.import_key_set(keys.json())
        step("discovery document and keys")

    def client(self, redirect_uri=None, scope="openid email profile"):
        return OAuth2Session(
            self.client_id,
            redirect_uri=redirect_uri or self.callback,
            scope=scope,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
            revocation_endpoint_auth_method="none",
        )

    def sign_in(self, username):
        """Authorization request, then the hosted form posted as a browser would. Returns the
        client, the PKCE verifier, the nonce and the redirect back (not followed)."""
        client = self.client()
        verifier = generate_token(64)
        nonce = generate_token(24)
        url, state = client.create_authorization_url(
            self.doc["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        browser = requests.Session()
        r = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
        check(r.status_code == 302, f"authorize: {r.status_code}")
        login = urljoin(url, r.headers["Location"])
        r = browser.get(login, allow_redirects=False, timeout=TIMEOUT)
        check(r.status_code == 200 and "text/html" in r.headers["Content-Type"],
              f"sign-in page: {r.status_code}")
        form = re.search(r'<form method="post" action="([^"]+)"', r.text)
        check(form is not None, "the sign-in page has a form")
        action = urljoin(login, html.unescape(form.group(1)))
        r = browser.post(action, data={"username": username}, allow_redirects=False,
                         timeout=TIMEOUT)
        check(r.status_code == 302, f"sign-in: {r.status_code}")
        back = r.headers["Location"]
        check(back.startswith(self.callback), "redirected to the registered callback")
        query = parse_qs(urlsplit(back).query)
        check(query.get("state") == [state], "the state comes back")
        check(len(query.get("code", [""])[0]) > 0, "a code comes back")
        return client, verifier, nonce, back

    def exchange(self, client, verifier, back):
        return client.fetch_token(
            self.doc["token_endpoint"], authorization_response=back, code_verifier=verifier)

    def id_claims(self, token, nonce=None):
        params = {"client_id": self.client_id, "access_token": token["access_token"]}
        if nonce:
            params["nonce"] = nonce
        claims = jwt.decode(
            token["id_token"], self.jwks, claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": self.issuer},
                            "aud": {"essential": True, "value": self.client_id}},
            claims_params=params)
        claims.validate()
        return claims

    def api(self, bearer, method="GET", body=None):
        return requests.request(method, f"{self.twin}/items", json=body, timeout=TIMEOUT,
                                headers={"Authorization": f"Bearer {bearer}"})

    def refresh_error(self, client, refresh_token):
        return error_of(lambda: client.refresh_token(
            self.doc["token_endpoint"], refresh_token=refresh_token))

    def run(self):
        self.discover()
        username = "oidc-user@example.com"

        client, verifier, nonce, back = self.sign_in(username)
        token = self.exchange(client, verifier, back)
        check({"id_token", "access_token", "refresh_token"} <= token.keys(), "three tokens")
        check(token["token_type"] == "Bearer", "Bearer tokens")
        claims = self.id_claims(token, nonce)
        check(claims["token_use"] == "id" and "at_hash" in claims, "an ID token with at_hash")
        check(claims["email"] == username and claims["cognito:username"] == username,
              "the user's email and username")
        access = jwt.decode(token["access_token"], self.jwks)
        access.validate()
        check(access["token_use"] == "access" and access["client_id"] == self.client_id
              and "aud" not in access and access["scope"] == "openid email profile",
              "an access token as Cognito's")
        check(access["sub"] == claims["sub"], "one user")
        step("authorization code with PKCE, state and nonce; tokens verified")

        check(self.api(token["id_token"]).status_code == 200, "GET /items with the ID token")
        created = self.api(token["id_token"], "POST", {"name": "signed in with authlib"})
        check(created.status_code == 201, f"POST /items: {created.status_code}")
        listed = self.api(token["id_token"]).json()["items"]
        check([i["name"] for i in listed] == ["signed in with authlib"], "the item is listed")
        check(self.api(token["access_token"]).status_code == 200,
              "the API takes the access token too (client_id)")
        step("the API with the ID token")

        raw = requests.post(self.doc["token_endpoint"], timeout=TIMEOUT, data={
            "grant_type": "refresh_token", "client_id": self.client_id,
            "refresh_token": token["refresh_token"]})
        check(raw.status_code == 200, f"refresh: {raw.status_code}")
        check(sorted(raw.json()) == ["access_token", "expires_in", "id_token", "token_type"],
              "a refresh brings no new refresh token")
        refreshed = client.refresh_token(
            self.doc["token_endpoint"], refresh_token=token["refresh_token"])
        again = self.id_claims(refreshed)
        check(again["sub"] == claims["sub"] and again["auth_time"] == claims["auth_time"],
              "the refreshed ID token is the same sign-in's")
        check(self.api(refreshed["id_token"]).status_code == 200, "the API takes it")
        step("refresh")

        user = client.get(self.doc["userinfo_endpoint"], timeout=TIMEOUT)
        check(user.status_code == 200, f"userInfo: {user.status_code}")
        info = user.json()
        check(info["sub"] == claims["sub"] and info["username"] == username
              and info["email"] == username, "userInfo names the user")
        bare = requests.get(self.doc["userinfo_endpoint"], timeout=TIMEOUT)
        check(bare.status_code == 401 and bare.headers.get("WWW-Authenticate", "").startswith("Bearer"),
              "userInfo without a token is 401 with a Bearer challenge")
        step("userInfo")

        reused = error_of(lambda: self.exchange(client, verifier, back))
        check(reused == "invalid_grant", f"a code used twice: {reused}")
        revoked = self.refresh_error(client, token["refresh_token"])
        check(revoked == "invalid_grant", f"the reused code's tokens are revoked: {revoked}")
        step("a code used twice is refused, and its tokens revoked")

        client, _, _, back = self.sign_in(username)
        wrong = error_of(lambda: self.exchange(client, generate_token(64), back))
        check(wrong == "invalid_grant", f"a wrong verifier: {wrong}")
        step("a wrong PKCE verifier is refused")

        evil = self.client(redirect_uri="https://evil.example/callback")
        url, _ = evil.create_authorization_url(
            self.doc["authorization_endpoint"], code_verifier=generate_token(64))
        r = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
        check(r.status_code == 400 and "Location" not in r.headers
              and "text/html" in r.headers["Content-Type"],
              f"an unregistered redirect_uri: {r.status_code} {r.headers.get('Location')}")
        r = requests.get(self.doc["authorization_endpoint"], allow_redirects=False, timeout=TIMEOUT,
                         params={"response_type": "code", "client_id": self.client_id,
                                 "redirect_uri": self.callback, "state": "s-1"})
        back = parse_qs(urlsplit(r.headers.get("Location", "")).query)
        check(r.status_code == 302 and back.get("error") == ["invalid_request"]
              and back.get("state") == ["s-1"], "no PKCE: invalid_request, redirected")
        step("an unregistered redirect_uri gets an error page, never a redirect")

        client, verifier, _, back = self.sign_in("revoked-user")
        token = self.exchange(client, verifier, back)
        r = client.revoke_token(self.doc["revocation_endpoint"], token=token["refresh_token"],
                                token_type_hint="refresh_token")
        check(r.status_code == 200, f"revoke: {r.status_code}")
        gone = self.refresh_error(client, token["refresh_token"])
        check(gone == "invalid_grant", f"refresh after revocation: {gone}")
        user = requests.get(self.doc["userinfo_endpoint"], timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
        check(user.status_code == 401, f"userInfo after revocation: {user.status_code}")
        step("revocation")

        end = self.doc["end_session_endpoint"]
        r = requests.get(end, allow_redirects=False, timeout=TIMEOUT,
                         params={"client_id": self.client_id, "logout_uri": self.logout})
        check(r.status_code == 302 and r.headers["Location"] == self.logout,
              f"sign-out: {r.status_code}")
        r = requests.get(end, allow_redirects=False, timeout=TIMEOUT,
                         params={"client_id": self.client_id,
                                 "logout_uri": "https://evil.example/"})
        check(r.status_code == 400 and "Location" not in r.headers,
              f"an unregistered logout_uri: {r.status_code}")
        step("sign-out to a registered URL only")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--twin", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--callback-url", required=True)
    parser.add_argument("--logout-url", required=True)
    args = parser.parse_args()
    try:
        Flow(args.twin, args.client_id, args.callback_url, args.logout_url).run()
    except Failed as e:
        print(f"FAILED: {e}", flush=True)
        return 1
    print("all OIDC client checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
