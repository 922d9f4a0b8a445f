#!/usr/bin/env python3
"""Writes the webhook signature test vectors under crates/bulwark-signatures/tests/vectors/.

Expected values must come from outside bulwark, so every signature here is produced (or,
for published examples, re-checked) by the provider's own SDK from PyPI, or, where the
provider publishes no SDK for it, by Python's standard library following the provider's
documented recipe. Each file names its source and the SDK version that produced it.

Negative vectors (wrong secret, tampered body, stale and future timestamps, malformed
headers) start from an SDK-made signature and change one thing; where the SDK can judge
the changed request, the script asserts that the SDK rejects it too.

Usage (a virtualenv keeps the SDKs out of the system Python):

    python3 -m venv /tmp/sigvenv
    /tmp/sigvenv/bin/pip install stripe standardwebhooks slack-sdk twilio cryptography
    /tmp/sigvenv/bin/python scripts/gen-signature-vectors.py
"""

import base64
import hashlib
import hmac
import json
import pathlib
from datetime import datetime, timezone
from importlib.metadata import version

import slack_sdk.signature
import standardwebhooks
import stripe
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twilio.request_validator import RequestValidator

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/bulwark-signatures/tests/vectors"

# Fixed inputs so that the output is reproducible.
T = 1_700_000_000
JSON_BODY = '{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded","data":{"amount":2000,"note":"caf\u00e9"}}'


def sdk(name):
    return f"{name} {version(name)} (PyPI)"


def write(name, source, vectors):
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {"source": source, "generator": "scripts/gen-signature-vectors.py", "vectors": vectors}
    (OUT / f"{name}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"{name}: {len(vectors)} vectors")


def vec(name, *, secrets, body, headers, now, expect, **extra):
    v = {"name": name, "secrets": secrets, "body": body, "headers": headers, "now": now, "expect": expect}
    v.update(extra)
    return v


# --- Stripe -----------------------------------------------------------------------------

def stripe_vectors():
    secret = "whsec_test_5oYRpqbN2Mt0wDqPPvh7ftlzHLAqVVhG"
    other = "whsec_test_0ldSecretThatWasRotatedAway000"
    ws = stripe.WebhookSignature
    header = ws.generate_signature_header(JSON_BODY, secret, timestamp=T)
    ws.verify_header(JSON_BODY, header, secret, tolerance=None)
    plain = "plain text body, not JSON"
    plain_header = ws.generate_signature_header(plain, secret, timestamp=T)
    # Stripe sends one v1 per active secret while a secret is rolled.
    roll_header = header + "," + ws.generate_signature_header(JSON_BODY, other, timestamp=T).split(",")[1]
    ws.verify_header(JSON_BODY, roll_header, other, tolerance=None)
    tampered = JSON_BODY.replace("2000", "2001")
    for body, hdr, key in [(tampered, header, secret), (JSON_BODY, header, other)]:
        try:
            ws.verify_header(body, hdr, key, tolerance=None)
            raise SystemExit("stripe SDK accepted a bad signature")
        except stripe.SignatureVerificationError:
            pass
    sig = header.split("v1=")[1]
    h = "Stripe-Signature"
    out = [
        vec("sdk header", secrets=[secret], body=JSON_BODY, headers={h: header}, now=T + 10,
            expect="ok", event_id="evt_1NG8Du2eZvKYlo2CUI79vXWy", secret_index=0),
        vec("non-JSON body has no event id", secrets=[secret], body=plain, headers={h: plain_header},
            now=T, expect="ok", secret_index=0),
        vec("rotation: second configured secret matches", secrets=[other + "x", secret], body=JSON_BODY,
            headers={h: header}, now=T, expect="ok", secret_index=1),
        vec("rolling: two v1, old secret configured", secrets=[other], body=JSON_BODY,
            headers={h: roll_header}, now=T, expect="ok", secret_index=0),
        vec("v0 and unknown items are ignored", secrets=[secret], body=JSON_BODY,
            headers={h: f"t={T},v0=abcdef,v1={sig},x=y"}, now=T, expect="ok", secret_index=0),
        vec("edge of tolerance, past", secrets=[secret], body=JSON_BODY, headers={h: header}, now=T + 300,
            expect="ok", secret_index=0),
        vec("edge of tolerance, future", secrets=[secret], body=JSON_BODY, headers={h: header}, now=T - 300,
            expect="ok", secret_index=0),
        vec("wrong secret", secrets=[other], body=JSON_BODY, headers={h: header}, now=T, expect="no_match"),
        vec("tampered body", secrets=[secret], body=tampered, headers={h: header}, now=T, expect="no_match"),
        vec("stale", secrets=[secret], body=JSON_BODY, headers={h: header}, now=T + 301, expect="timestamp"),
        vec("future", secrets=[secret], body=JSON_BODY, headers={h: header}, now=T - 301, expect="timestamp"),
        vec("missing header", secrets=[secret], body=JSON_BODY, headers={}, now=T, expect="missing"),
        vec("no t", secrets=[secret], body=JSON_BODY, headers={h: f"v1={sig}"}, now=T, expect="malformed"),
        vec("t not a number", secrets=[secret], body=JSON_BODY, headers={h: f"t=12ab,v1={sig}"}, now=T,
            expect="malformed"),
        vec("no v1", secrets=[secret], body=JSON_BODY, headers={h: f"t={T},v0={sig}"}, now=T, expect="malformed"),
        vec("item without =", secrets=[secret], body=JSON_BODY, headers={h: f"t={T},{sig}"}, now=T,
            expect="malformed"),
    ]
    write("stripe", f"signatures by {sdk('stripe')}: stripe.WebhookSignature.generate_signature_header, "
          "checked with verify_header", out)


# --- GitHub -----------------------------------------------------------------------------

def github_vectors():
    # GitHub's docs, "Validating webhook deliveries", "Testing the webhook payload
    # validation": this secret and payload give this signature.
    secret = "It's a Secret to Everybody"
    body = "Hello, World!"
    sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    # The same recipe in Python's standard library must agree with the published value.
    assert "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest() == sig
    h = "X-Hub-Signature-256"
    d = "X-GitHub-Delivery"
    delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    out = [
        vec("docs example", secrets=[secret], body=body, headers={h: sig, d: delivery}, now=0, expect="ok",
            event_id=delivery, secret_index=0),
        vec("header name in lower case", secrets=[secret], body=body, headers={h.lower(): sig}, now=0,
            expect="ok", secret_index=0),
        vec("rotation", secrets=["old secret", secret], body=body, headers={h: sig}, now=0, expect="ok",
            secret_index=1),
        vec("wrong secret", secrets=["It's a Secret to Nobody"], body=body, headers={h: sig}, now=0,
            expect="no_match"),
        vec("tampered body", secrets=[secret], body="Hello, World?", headers={h: sig}, now=0, expect="no_match"),
        vec("sha1 prefix", secrets=[secret], body=body, headers={h: sig.replace("sha256=", "sha1=")}, now=0,
            expect="malformed"),
        vec("not hex", secrets=[secret], body=body, headers={h: "sha256=zz"}, now=0, expect="malformed"),
        vec("missing header", secrets=[secret], body=body, headers={}, now=0, expect="missing"),
    ]
    write("github", "GitHub docs, 'Validating webhook deliveries' (published example); negatives derived "
          "from it", out)


# --- Slack ------------------------------------------------------------------------------

def slack_vectors():
    # Slack's docs, "Verifying requests from Slack": this signing secret, timestamp and
    # slash-command body give this signature. slack_sdk must agree.
    docs_secret = "8f742231b10e8888abcd99yyyzzz85a5"
    docs_ts = 1531420618
    docs_body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    docs_sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

    class Clock(slack_sdk.signature.Clock):
        def __init__(self, now):
            self._now = now

        def now(self):
            return self._now

    def verifier(secret, now):
        return slack_sdk.signature.SignatureVerifier(secret, clock=Clock(now))

    assert verifier(docs_secret, docs_ts).is_valid(docs_body, str(docs_ts), docs_sig)

    secret = "e4b3f0a1c2d94f5e8a7b6c5d4e3f2a1b"
    body = '{"token":"x","type":"event_callback","event":{"type":"app_mention","text":"h\u00e9llo"}}'
    sig = verifier(secret, T).generate_signature(timestamp=str(T), body=body)
    v = verifier(secret, T)
    assert v.is_valid(body, str(T), sig)
    assert not v.is_valid(body + " ", str(T), sig)
    assert not verifier(secret, T + 301).is_valid(body, str(T), sig)
    assert not verifier(secret, T - 301).is_valid(body, str(T), sig)
    assert not verifier("another secret", T).is_valid(body, str(T), sig)
    s, ts = "X-Slack-Signature", "X-Slack-Request-Timestamp"
    out = [
        vec("docs example", secrets=[docs_secret], body=docs_body, headers={s: docs_sig, ts: str(docs_ts)},
            now=docs_ts, expect="ok", secret_index=0),
        vec("sdk signature", secrets=[secret], body=body, headers={s: sig, ts: str(T)}, now=T + 299,
            expect="ok", secret_index=0),
        vec("rotation", secrets=["another secret", secret], body=body, headers={s: sig, ts: str(T)}, now=T,
            expect="ok", secret_index=1),
        vec("wrong secret", secrets=["another secret"], body=body, headers={s: sig, ts: str(T)}, now=T,
            expect="no_match"),
        vec("tampered body", secrets=[secret], body=body + " ", headers={s: sig, ts: str(T)}, now=T,
            expect="no_match"),
        vec("timestamp changed", secrets=[secret], body=body, headers={s: sig, ts: str(T + 1)}, now=T,
            expect="no_match"),
        vec("stale", secrets=[secret], body=body, headers={s: sig, ts: str(T)}, now=T + 301, expect="timestamp"),
        vec("future", secrets=[secret], body=body, headers={s: sig, ts: str(T)}, now=T - 301, expect="timestamp"),
        vec("missing timestamp", secrets=[secret], body=body, headers={s: sig}, now=T, expect="missing"),
        vec("missing signature", secrets=[secret], body=body, headers={ts: str(T)}, now=T, expect="missing"),
        vec("timestamp not a number", secrets=[secret], body=body, headers={s: sig, ts: "-5"}, now=T,
            expect="malformed"),
        vec("wrong version", secrets=[secret], body=body, headers={s: "v1=" + sig[3:], ts: str(T)}, now=T,
            expect="malformed"),
    ]
    write("slack", f"Slack docs, 'Verifying requests from Slack' (published example, re-checked with "
          f"{sdk('slack_sdk')}); other signatures by slack_sdk.signature.SignatureVerifier", out)


# --- Standard Webhooks ------------------------------------------------------------------

def standard_vectors():
    # The example of the Standard Webhooks spec and the svix docs: this secret, id,
    # timestamp and payload give this signature. The reference SDK must agree.
    ex_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ex_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    ex_ts = 1614265330
    ex_body = '{"test": 2432232314}'
    ex_sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    ex_from_sdk = standardwebhooks.Webhook(ex_secret).sign(ex_id, datetime.fromtimestamp(ex_ts, tz=timezone.utc), ex_body)
    assert ex_from_sdk == ex_sig, ex_from_sdk

    secret = "whsec_" + base64.b64encode(bytes(range(24))).decode()
    other = "whsec_" + base64.b64encode(b"an older secret, rotated!").decode()
    msg_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    when = datetime.fromtimestamp(T, tz=timezone.utc)
    sig = standardwebhooks.Webhook(secret).sign(msg_id, when, JSON_BODY)
    other_sig = standardwebhooks.Webhook(other).sign(msg_id, when, JSON_BODY)

    # v1a: the reference Python SDK has no asymmetric support, so the ed25519 signature
    # of the same signed content is made with the `cryptography` package (OpenSSL).
    seed = bytes(range(100, 132))
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes_raw()
    whpk = "whpk_" + base64.b64encode(public).decode()
    v1a = "v1a," + base64.b64encode(private.sign(f"{msg_id}.{T}.{JSON_BODY}".encode())).decode()

    def hdrs(sig_value, ts=T, mid=msg_id, prefix="webhook"):
        return {f"{prefix}-id": mid, f"{prefix}-timestamp": str(ts), f"{prefix}-signature": sig_value}

    out = [
        vec("spec example", secrets=[ex_secret], body=ex_body, headers=hdrs(ex_sig, ex_ts, ex_id), now=ex_ts,
            expect="ok", event_id=ex_id, secret_index=0),
        vec("sdk signature", secrets=[secret], body=JSON_BODY, headers=hdrs(sig), now=T, expect="ok",
            event_id=msg_id, secret_index=0),
        vec("secret without whsec_ prefix", secrets=[secret[len("whsec_"):]], body=JSON_BODY, headers=hdrs(sig),
            now=T, expect="ok", secret_index=0),
        vec("svix header names", secrets=[secret], body=JSON_BODY, headers=hdrs(sig, prefix="svix"), now=T,
            expect="ok", event_id=msg_id, secret_index=0),
        vec("several signatures, second matches", secrets=[secret], body=JSON_BODY,
            headers=hdrs(f"{other_sig} {sig}"), now=T, expect="ok", secret_index=0),
        vec("rotation: second configured secret", secrets=["whsec_" + base64.b64encode(b"nope").decode(), secret],
            body=JSON_BODY, headers=hdrs(sig), now=T, expect="ok", secret_index=1),
        vec("unknown version skipped", secrets=[secret], body=JSON_BODY, headers=hdrs(f"v2,AAAA {sig}"), now=T,
            expect="ok", secret_index=0),
        vec("v1a ed25519", secrets=[whpk], body=JSON_BODY, headers=hdrs(v1a), now=T, expect="ok",
            event_id=msg_id, secret_index=0),
        vec("v1a with an hmac secret too", secrets=[other, whpk], body=JSON_BODY, headers=hdrs(f"{sig} {v1a}"),
            now=T, expect="ok", secret_index=1),
        vec("v1a tampered body", secrets=[whpk], body=JSON_BODY + " ", headers=hdrs(v1a), now=T,
            expect="no_match"),
        vec("v1 signature under v1a", secrets=[whpk], body=JSON_BODY, headers=hdrs(sig), now=T, expect="no_match"),
        vec("wrong secret", secrets=[other], body=JSON_BODY, headers=hdrs(sig), now=T, expect="no_match"),
        vec("tampered body", secrets=[secret], body=JSON_BODY + " ", headers=hdrs(sig), now=T, expect="no_match"),
        vec("id changed", secrets=[secret], body=JSON_BODY, headers=hdrs(sig, mid="msg_other"), now=T,
            expect="no_match"),
        vec("stale", secrets=[secret], body=JSON_BODY, headers=hdrs(sig), now=T + 301, expect="timestamp"),
        vec("future", secrets=[secret], body=JSON_BODY, headers=hdrs(sig), now=T - 301, expect="timestamp"),
        vec("edge of tolerance", secrets=[secret], body=JSON_BODY, headers=hdrs(sig), now=T - 300, expect="ok",
            secret_index=0),
        vec("missing id", secrets=[secret], body=JSON_BODY,
            headers={"webhook-timestamp": str(T), "webhook-signature": sig}, now=T, expect="missing"),
        vec("entry without comma", secrets=[secret], body=JSON_BODY, headers=hdrs(sig.replace(",", "")), now=T,
            expect="malformed"),
        vec("only unknown versions", secrets=[secret], body=JSON_BODY, headers=hdrs("v9,AAAA"), now=T,
            expect="malformed"),
        vec("timestamp not a number", secrets=[secret], body=JSON_BODY, headers=hdrs(sig, ts="1e9"), now=T,
            expect="malformed"),
    ]
    signs = [
        {"secret": ex_secret, "id": ex_id, "timestamp": ex_ts, "body": ex_body, "signature": ex_sig},
        {"secret": secret, "id": msg_id, "timestamp": T, "body": JSON_BODY, "signature": sig},
    ]
    doc_source = (f"Standard Webhooks spec example (re-checked with {sdk('standardwebhooks')}); v1 signatures by "
                  f"standardwebhooks.Webhook.sign; v1a by {sdk('cryptography')} Ed25519PrivateKey.sign")
    write("standard", doc_source, out)
    # The `sign` vectors live beside the others, for bulwark's own outgoing signatures.
    (OUT / "standard_sign.json").write_text(json.dumps(
        {"source": doc_source, "generator": "scripts/gen-signature-vectors.py", "vectors": signs}, indent=2) + "\n")
    print(f"standard_sign: {len(signs)} vectors")


# --- Shopify ----------------------------------------------------------------------------

def shopify_vectors():
    # Shopify publishes no Python SDK verifier for webhooks; its docs give the recipe
    # (base64 of HMAC-SHA256 of the raw body, keyed with the app's client secret), done
    # here with Python's standard library.
    secret = "shpss_0123456789abcdef0123456789abcdef"
    body = '{"id":820982911946154508,"email":"jon@example.com","note":"d\u00e9j\u00e0 vu"}'
    sig = base64.b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()).decode()
    h, i = "X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id"
    wid = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    out = [
        vec("recipe", secrets=[secret], body=body, headers={h: sig, i: wid}, now=0, expect="ok", event_id=wid,
            secret_index=0),
        vec("rotation", secrets=["shpss_old", secret], body=body, headers={h: sig}, now=0, expect="ok",
            secret_index=1),
        vec("wrong secret", secrets=["shpss_old"], body=body, headers={h: sig}, now=0, expect="no_match"),
        vec("tampered body", secrets=[secret], body=body.replace("jon", "jan"), headers={h: sig}, now=0,
            expect="no_match"),
        vec("hex instead of base64", secrets=[secret], body=body,
            headers={h: hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest() + "!"}, now=0,
            expect="malformed"),
        vec("missing header", secrets=[secret], body=body, headers={}, now=0, expect="missing"),
    ]
    write("shopify", "Shopify docs recipe computed with Python's hmac/hashlib (no official Python SDK "
          "verifier exists)", out)


# --- Twilio -----------------------------------------------------------------------------

def twilio_vectors():
    # Twilio's docs, "Webhooks security", "Validating signatures from Twilio": this auth
    # token, URL and form parameters give this signature. The SDK must agree.
    token = "12345"
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    v = RequestValidator(token)
    sig = v.compute_signature(url, params)
    assert sig == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", sig
    assert v.validate(url, params, sig)
    # Signed with the default port written out; the request URL has none.
    sig_port = v.compute_signature("https://mycompany.com:443/myapp.php?foo=1&bar=2", params)
    assert v.validate(url, params, sig_port)
    json_body = '{"property": "value", "boolean": true}'
    body_url = "https://mycompany.com/myapp?bodySHA256=" + hashlib.sha256(json_body.encode()).hexdigest()
    body_sig = v.compute_signature(body_url, {})
    assert v.validate(body_url, json_body, body_sig)
    assert not v.validate(body_url, json_body + " ", body_sig)
    assert not v.validate(url, dict(params, Digits="1235"), sig)
    assert not RequestValidator("54321").validate(url, params, sig)
    form = sorted(params.items())
    body = "&".join(f"{k}={v}" for k, v in params.items())
    h = "X-Twilio-Signature"
    out = [
        vec("docs example", secrets=[token], body=body, headers={h: sig}, now=0, url=url, form=form,
            expect="ok", secret_index=0),
        vec("signed with default port", secrets=[token], body=body, headers={h: sig_port}, now=0, url=url,
            form=form, expect="ok", secret_index=0),
        vec("rotation", secrets=["54321", token], body=body, headers={h: sig}, now=0, url=url, form=form,
            expect="ok", secret_index=1),
        vec("json body with bodySHA256", secrets=[token], body=json_body, headers={h: body_sig}, now=0,
            url=body_url, form=[], expect="ok", secret_index=0),
        vec("json body tampered", secrets=[token], body=json_body + " ", headers={h: body_sig}, now=0,
            url=body_url, form=[], expect="no_match"),
        vec("parameter changed", secrets=[token], body=body, headers={h: sig}, now=0, url=url,
            form=sorted(dict(params, Digits="1235").items()), expect="no_match"),
        vec("wrong token", secrets=["54321"], body=body, headers={h: sig}, now=0, url=url, form=form,
            expect="no_match"),
        vec("other URL", secrets=[token], body=body, headers={h: sig}, now=0, url=url + "&x=1", form=form,
            expect="no_match"),
        vec("missing header", secrets=[token], body=body, headers={}, now=0, url=url, form=form,
            expect="missing"),
    ]
    write("twilio", f"Twilio docs, 'Webhooks security' (published example, re-checked with {sdk('twilio')}); "
          f"other signatures by {sdk('twilio')}: twilio.request_validator.RequestValidator."
          "compute_signature, checked with validate", out)


# --- Generic HMAC -----------------------------------------------------------------------

def hmac_vectors():
    # No provider: Python's standard library is the independent implementation.
    secret = "generic-secret-0123456789"
    body = '{"event":"message","text":"ol\u00e1"}'
    b = body.encode()
    k = secret.encode()

    def mac(alg, data):
        return hmac.new(k, data, alg)

    out = [
        vec("sha256 hex, prefix", params={"header": "X-Signature", "algorithm": "sha256", "encoding": "hex",
                                          "prefix": "sha256="},
            secrets=[secret], body=body, headers={"X-Signature": "sha256=" + mac(hashlib.sha256, b).hexdigest()},
            now=T, expect="ok", secret_index=0),
        vec("sha1 base64", params={"header": "X-Sig", "algorithm": "sha1", "encoding": "base64"},
            secrets=[secret], body=body,
            headers={"X-Sig": base64.b64encode(mac(hashlib.sha1, b).digest()).decode()},
            now=T, expect="ok", secret_index=0),
        vec("sha512 hex with timestamp template", params={
            "header": "X-Sig", "algorithm": "sha512", "encoding": "hex", "timestamp_header": "X-Ts",
            "template": "v0:{timestamp}:{body}"},
            secrets=["old", secret], body=body,
            headers={"X-Sig": mac(hashlib.sha512, f"v0:{T}:".encode() + b).hexdigest(), "X-Ts": str(T)},
            now=T + 5, expect="ok", secret_index=1),
        vec("default timestamp template", params={
            "header": "X-Sig", "algorithm": "sha256", "encoding": "base64", "timestamp_header": "X-Ts"},
            secrets=[secret], body=body,
            headers={"X-Sig": base64.b64encode(mac(hashlib.sha256, f"{T}.".encode() + b).digest()).decode(),
                     "X-Ts": str(T)},
            now=T, expect="ok", secret_index=0),
        vec("stale", params={
            "header": "X-Sig", "algorithm": "sha256", "encoding": "base64", "timestamp_header": "X-Ts"},
            secrets=[secret], body=body,
            headers={"X-Sig": base64.b64encode(mac(hashlib.sha256, f"{T}.".encode() + b).digest()).decode(),
                     "X-Ts": str(T)},
            now=T + 301, expect="timestamp"),
        vec("tampered", params={"header": "X-Sig", "algorithm": "sha1", "encoding": "base64"},
            secrets=[secret], body=body + "x",
            headers={"X-Sig": base64.b64encode(mac(hashlib.sha1, b).digest()).decode()},
            now=T, expect="no_match"),
        vec("prefix missing", params={"header": "X-Signature", "algorithm": "sha256", "encoding": "hex",
                                      "prefix": "sha256="},
            secrets=[secret], body=body, headers={"X-Signature": mac(hashlib.sha256, b).hexdigest()},
            now=T, expect="malformed"),
    ]
    write("hmac", "computed with Python's hmac/hashlib (generic scheme, no provider)", out)


if __name__ == "__main__":
    stripe_vectors()
    github_vectors()
    slack_vectors()
    standard_vectors()
    shopify_vectors()
    twilio_vectors()
    hmac_vectors()
