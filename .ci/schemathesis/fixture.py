#!/usr/bin/env python3
"""Creates, over HTTP, everything schemathesis needs to reach every operation of a fresh
Set Server, and writes the schemathesis config that hands it over.

A verified developer (signed up, verification link read from the outbox, signed in), a
client with its credentials, a client token, a user token, an integration with an IFTTT
service key and an integration token; and throw-away resources for the destructive
operations (deleting the account, a client, a user, an integration; rotating secrets), so
they never pull the ground from under the others.

Usage: fixture.py --url http://127.0.0.1:PORT --outbox DATA_DIR/outbox --out A.toml --out-last B.toml
Only the standard library: it runs before (and without) schemathesis' own packages.
"""

import argparse
import base64
import email
import email.policy
import json
import pathlib
import re
import secrets
import sys
import time
import urllib.error
import urllib.request

PASSWORD = "schemathesis password"
REDIRECT = "http://localhost:9999/callback"


class Api:
    def __init__(self, base, outbox):
        self.base = base.rstrip("/")
        self.outbox = pathlib.Path(outbox)

    def call(self, method, path, body=None, headers=None, form=None):
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = "&".join(f"{k}={urllib.request.quote(v, safe='')}" for k, v in form.items()).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return res.status, res.headers, _json(res.read())
        except urllib.error.HTTPError as err:
            return err.code, err.headers, _json(err.read())

    def expect(self, status, method, path, **kw):
        got, headers, body = self.call(method, path, **kw)
        if got != status:
            sys.exit(f"fixture: {method} {path} answered {got}, expected {status}: {body}")
        return headers, body

    def portal(self, status, method, path, body=None, cookie=None):
        headers = {"X-Requested-With": "set-portal"}
        if cookie:
            headers["Cookie"] = f"set_session={cookie}"
        return self.expect(status, method, "/api/portal" + path, body=body, headers=headers)

    def verification_token(self, address):
        """The token of the newest verification link sent to `address`."""
        deadline = time.time() + 15
        while time.time() < deadline:
            for path in sorted(self.outbox.glob("*.eml"), reverse=True):
                msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if address not in str(msg["To"]):
                    continue
                text = msg.get_body(preferencelist=("plain",)).get_content()
                found = re.search(r"/verify-email\?token=([A-Za-z0-9_-]+)", text)
                if found:
                    return found.group(1)
            time.sleep(0.1)
        sys.exit(f"fixture: no verification email for {address} in {self.outbox}")

    def developer(self, address):
        """Signs `address` up, verifies it, signs in; returns the session cookie."""
        creds = {"email": address, "password": PASSWORD}
        self.portal(201, "POST", "/signup", creds)
        self.portal(200, "POST", "/verify-email", {"token": self.verification_token(address)})
        headers, _ = self.portal(200, "POST", "/login", creds)
        cookie = re.search(r"set_session=([^;]+)", headers.get("Set-Cookie", ""))
        if not cookie:
            sys.exit("fixture: the login set no session cookie")
        return cookie.group(1)

    def client(self, cookie, name):
        _, body = self.portal(201, "POST", "/clients", {"name": name}, cookie)
        return body["client_id"], body["client_secret"]

    def integration(self, cookie, client_id, name, service_key=None):
        body = {"name": name, "redirect_uris": [REDIRECT]}
        if service_key:
            body["ifttt_service_key"] = service_key
        _, created = self.portal(201, "POST", f"/clients/{client_id}/integrations", body, cookie)
        return created["id"]

    def client_token(self, client_id, secret):
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        _, body = self.expect(200, "POST", "/v1/client/register", headers={"Authorization": f"Basic {basic}"})
        return body["access_token"]

    def user(self, client_token):
        _, body = self.expect(201, "POST", "/v1/users", body={"metadata": {"by": "schemathesis"}},
                              headers={"Authorization": f"Bearer {client_token}"})
        return body["user"]["id"], body["access_token"]


def _json(raw):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


def toml_str(value):
    return json.dumps(value)  # a JSON string is a valid TOML basic string


# Operations whose contract answers 400 to some schema-valid requests, for reasons no
# schema can state: an unknown or used grant, code, link code or emailed token (RFC 6749
# and API.md fix 400 for these), a wrong current password, both Basic and body client
# credentials at once, and byte limits on emails and redirect URIs that JSON Schema can
# only count in characters. Everywhere else schema-valid data must be accepted.
SEMANTIC_400 = """
[[operations]]
include-operation-id = ["token", "revoke", "introspect", "authorizePage", "authorizeSubmit",
  "authorizeApp", "verifyEmail", "resetPassword", "changePassword", "signup",
  "resendVerification", "forgotPassword", "createIntegration", "editIntegration"]
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]"""


def auth(schemes):
    lines = []
    for scheme, settings in schemes.items():
        lines.append(f"[auth.openapi.{scheme}]")
        lines += [f"{k} = {toml_str(v)}" for k, v in settings.items()]
    return "\n".join(lines)


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--url", required=True)
    args.add_argument("--outbox", required=True)
    args.add_argument("--out", required=True, help="config for every operation but the two below")
    args.add_argument("--out-last", required=True,
                      help="config for deleteMe and deleteDeveloper, run last: they end the user and the account")
    args.add_argument("--max-examples", type=int, default=10)
    opts = args.parse_args()
    api = Api(opts.url, opts.outbox)

    # The app whose credentials and tokens the SDK, OAuth and IFTTT operations use belongs
    # to a developer schemathesis never signs in as, so no portal call can delete it or
    # rotate its secret mid-run. The fuzzed session starts with nothing and works on what
    # it creates (the stateful phase follows the document's links to its new clients).
    owner_session = api.developer("schemathesis-owner@example.com")
    main_session = api.developer("schemathesis@example.com")
    doomed_session = api.developer("schemathesis-delete-me@example.com")
    client_id, client_secret = api.client(owner_session, "Schemathesis")
    service_key = "sk_" + secrets.token_urlsafe(24)
    api.integration(owner_session, client_id, "IFTTT", service_key)
    client_token = api.client_token(client_id, client_secret)
    _, user_token = api.user(client_token)
    _, doomed_user_token = api.user(client_token)
    _, setup = api.expect(200, "POST", "/ifttt/v1/test/setup", headers={"IFTTT-Service-Key": service_key})
    integration_token = setup["data"]["accessToken"]

    schemes = {
        "clientBasic": {"username": client_id, "password": client_secret},
        "clientToken": {"bearer": client_token},
        "userToken": {"bearer": user_token},
        "integrationToken": {"bearer": integration_token},
        "sessionCookie": {"api_key": main_session},
        "portalHeader": {"api_key": "set-portal"},
        "iftttServiceKey": {"api_key": service_key},
    }
    head = [
        "# Written by .ci/schemathesis/fixture.py for one run; do not edit.",
        f"base-url = {toml_str(opts.url)}",
        "",
        "[generation]",
        f"max-examples = {opts.max_examples}",
        "",
    ]
    config = head + [
        auth(schemes),
        SEMANTIC_400,
    ]
    pathlib.Path(opts.out).write_text("\n".join(config) + "\n")
    last = head + [auth({**schemes, "userToken": {"bearer": doomed_user_token},
                         "sessionCookie": {"api_key": doomed_session}})]
    pathlib.Path(opts.out_last).write_text("\n".join(last) + "\n")
    print(f"fixture: developer, client {client_id}, users, integrations and tokens ready; config in {opts.out}")


if __name__ == "__main__":
    main()
