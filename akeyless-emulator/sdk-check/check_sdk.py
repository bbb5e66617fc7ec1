#!/usr/bin/env python3
"""Cross-check of the Akeyless emulator with the official Akeyless Python SDK.

Runs every operation the emulator serves through the official SDK (PyPI `akeyless`, pinned in
scripts/requirements-test.txt) and the official `akeyless-cloud-id` package, against a running
emulator that serves the built-in demo seed, and verifies the certificates with `ssh-keygen -L` and
`openssl verify`. Exits 0 if every check passes; otherwise prints each failure and exits 1.

Usage: check_sdk.py --url URL --access-id ID --access-key KEY --uid-access-id ID --uid-token TOKEN
                    --limited-access-id ID --limited-access-key KEY --aws-access-id ID
       with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set to the aws_iam identity's key pair.

Driven by akeyless-emulator/tests/sdk_crosscheck.rs.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import types

import akeyless
from akeyless.rest import ApiException

FAILURES = []


def check(condition, what):
    if condition:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        FAILURES.append(what)


def expect_status(status, what, call):
    try:
        call()
    except ApiException as e:
        body = json.loads(e.body) if e.body else {}
        check(e.status == status and isinstance(body.get("error"), str),
              f"{what}: HTTP {status} with a JSON error (got {e.status} {e.body!r})")
        return
    check(False, f"{what}: expected HTTP {status}, the call succeeded")


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def cloud_id_module():
    """Imports akeyless_cloud_id. Its AWS generator imports boto3 at the top of `generate` even when
    the credentials are passed explicitly (as here), where boto3 is never called; without boto3
    installed, an empty module satisfies that import."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        sys.modules["boto3"] = types.ModuleType("boto3")
    from akeyless_cloud_id import CloudId
    return CloudId()


def main():
    parser = argparse.ArgumentParser()
    for flag in ["url", "access-id", "access-key", "uid-access-id", "uid-token",
                 "limited-access-id", "limited-access-key", "aws-access-id"]:
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()

    api = akeyless.V2Api(akeyless.ApiClient(akeyless.Configuration(host=args.url)))

    # --- auth: access_key and universal_identity -------------------------------------------------
    out = api.auth(akeyless.Auth(access_type="access_key", access_id=args.access_id,
                                 access_key=args.access_key))
    token = out.token
    check(token.startswith("t-"), "auth access_key returns a t- token")
    check(bool(out.expiration) and out.creds is not None and out.creds.expiry > 0,
          "auth returns expiration and creds.expiry")
    out = api.auth(akeyless.Auth(access_type="universal_identity", access_id=args.uid_access_id,
                                 uid_token=args.uid_token))
    uid_session = out.token
    check(uid_session.startswith("t-"), "auth universal_identity (uid-token) returns a token")
    expect_status(401, "auth with a wrong access key", lambda: api.auth(akeyless.Auth(
        access_type="access_key", access_id=args.access_id, access_key="wrong")))
    expect_status(401, "auth with a wrong uid token", lambda: api.auth(akeyless.Auth(
        access_type="universal_identity", access_id=args.uid_access_id, uid_token="u-wrong")))

    v = api.validate_token(akeyless.ValidateToken(token=token))
    check(v.is_valid is True and v.ttl > 0, "validate-token reports a valid token")
    expect_status(401, "validate-token with an unknown token",
                  lambda: api.validate_token(akeyless.ValidateToken(token="t-unknown")))

    # --- describe every item type ----------------------------------------------------------------
    expected = {
        "/demo/static/password": "STATIC_SECRET",
        "/demo/static/db": "STATIC_SECRET",
        "/demo/dynamic/db": "DYNAMIC_SECRET",
        "/demo/dynamic/aws": "DYNAMIC_SECRET",
        "/demo/rotated/admin": "ROTATED_SECRET",
        "/demo/ssh/issuer": "SSH_CERT_ISSUER",
        "/demo/pki/issuer": "PKI_CERT_ISSUER",
        "/demo/certificate/web": "CERTIFICATE",
    }
    for name, item_type in expected.items():
        item = api.describe_item(akeyless.DescribeItem(name=name, token=token))
        check(item.item_name == name and item.item_type == item_type,
              f"describe-item {name} is {item_type}")
    item = api.describe_item(akeyless.DescribeItem(name="/demo/static/password", token=token,
                                                   show_versions=True))
    check(item.last_version == 2 and len(item.item_versions) == 2, "describe-item shows versions")

    # --- read every item type --------------------------------------------------------------------
    values = api.get_secret_value(akeyless.GetSecretValue(
        names=["/demo/static/password", "/demo/static/db"], token=uid_session))
    check(values["/demo/static/password"] == "demo-password-v2", "static text secret")
    db = json.loads(values["/demo/static/db"])
    check(db["username"] == "app", "static JSON secret is a JSON-encoded string")
    old = api.get_secret_value(akeyless.GetSecretValue(names=["/demo/static/password"],
                                                       version=1, token=token))
    check(old["/demo/static/password"] == "demo-password-v1", "static secret version 1")
    direct = api.get_secret_value(akeyless.GetSecretValue(names=["/demo/static/password"],
                                                          uid_token=args.uid_token))
    check(direct["/demo/static/password"] == "demo-password-v2", "static secret read with uid-token")

    d1 = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name="/demo/dynamic/db",
                                                                     token=token))
    d2 = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name="/demo/dynamic/db",
                                                                     token=token))
    check(d1["user"].startswith("tmp-") and d1["user"] != d2["user"],
          "dynamic secret (flat) is fresh per call")
    wrapped = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name="/demo/dynamic/aws",
                                                                          token=token))
    inner = json.loads(wrapped["value"])
    check(wrapped["error"] == "" and inner["access_key_id"].startswith("ASIADEMO"),
          "dynamic secret (wrapped) holds a JSON-encoded value")

    rotated = api.get_rotated_secret_value(akeyless.GetRotatedSecretValue(
        names="/demo/rotated/admin", token=token))
    check(rotated["value"]["username"] == "admin", "rotated secret")

    cert = api.get_certificate_value(akeyless.GetCertificateValue(name="/demo/certificate/web",
                                                                  token=token))
    check(cert.certificate_pem.startswith("-----BEGIN CERTIFICATE-----") and
          "PRIVATE KEY" in cert.private_key_pem, "certificate item value")

    listed = api.list_items(akeyless.ListItems(path="/demo/static", token=token))
    check(sorted(i.item_name for i in listed.items) == ["/demo/static/db", "/demo/static/password"],
          "list-items lists the folder's items")

    with tempfile.TemporaryDirectory() as tmp:
        # SSH: sign a fresh key and let OpenSSH parse the certificate.
        key = os.path.join(tmp, "id_ed25519")
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        with open(key + ".pub") as f:
            public_key = f.read()
        ssh = api.get_ssh_certificate(akeyless.GetSSHCertificate(
            cert_issuer_name="/demo/ssh/issuer", cert_username="deploy",
            public_key_data=public_key, ttl=600, token=token))
        with open(key + "-cert.pub", "w") as f:
            f.write(ssh.data)
        listing = run("ssh-keygen", "-L", "-f", key + "-cert.pub")
        check("user certificate" in listing and "deploy" in listing,
              "SSH certificate is accepted by ssh-keygen -L")

        # PKI: a CSR made by OpenSSL, the certificate verified by OpenSSL against parent_cert.
        csr_path, key_path = os.path.join(tmp, "req.csr"), os.path.join(tmp, "req.key")
        run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-subj", "/CN=api.demo.local", "-keyout", key_path, "-out", csr_path)
        with open(csr_path, "rb") as f:
            csr_b64 = base64.b64encode(f.read()).decode()
        pki = api.get_pki_certificate(akeyless.GetPKICertificate(
            cert_issuer_name="/demo/pki/issuer", csr_data_base64=csr_b64, ttl="600", token=token))
        parent, leaf = os.path.join(tmp, "parent.pem"), os.path.join(tmp, "cert.pem")
        with open(parent, "w") as f:
            f.write(pki.parent_cert)
        with open(leaf, "w") as f:
            f.write(pki.data)
        verified = run("openssl", "verify", "-CAfile", parent, leaf)
        check(verified.strip().endswith("OK"), "PKI certificate passes openssl verify")

    # --- 404 and 401 ---------------------------------------------------------------------------------
    expect_status(404, "describe-item of a missing readable item",
                  lambda: api.describe_item(akeyless.DescribeItem(name="/demo/missing", token=token)))
    expect_status(401, "describe-item of a forbidden existing item",
                  lambda: api.describe_item(akeyless.DescribeItem(name="/restricted/admin-token",
                                                                  token=token)))
    expect_status(401, "describe-item of a forbidden missing item",
                  lambda: api.describe_item(akeyless.DescribeItem(name="/restricted/missing",
                                                                  token=token)))
    expect_status(401, "get-secret-value with a forged token",
                  lambda: api.get_secret_value(akeyless.GetSecretValue(
                      names=["/demo/static/password"], token="t-forged")))
    limited = api.auth(akeyless.Auth(access_type="access_key", access_id=args.limited_access_id,
                                     access_key=args.limited_access_key)).token
    expect_status(401, "get-secret-value outside the allow list",
                  lambda: api.get_secret_value(akeyless.GetSecretValue(
                      names=["/demo/static/db"], token=limited)))

    # --- aws_iam with the official cloud-id generator ---------------------------------------------
    cloud = cloud_id_module()
    key_id, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    session_token = os.environ.get("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEMULATORSESSION")
    good = cloud.generate(key_id, secret, session_token)
    out = api.auth(akeyless.Auth(access_type="aws_iam", access_id=args.aws_access_id,
                                 cloud_id=good))
    check(out.token.startswith("t-"), "aws_iam cloud-id from akeyless-cloud-id is accepted")
    bad = cloud.generate(key_id, secret + "-wrong", session_token)
    expect_status(401, "aws_iam cloud-id signed with a wrong secret", lambda: api.auth(
        akeyless.Auth(access_type="aws_iam", access_id=args.aws_access_id, cloud_id=bad)))

    if FAILURES:
        print(f"\n{len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("\nall SDK checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
