"""Shared by the two baselines: reading the job spec and fetching one item
with the official Akeyless Python SDK (akeyless==5.0.40)."""

import base64
import json
import sys

import akeyless


def load_spec():
    """The job spec the harness wrote: url, access_id, access_key, items."""
    with open(sys.argv[1], encoding="utf-8") as f:
        return json.load(f)


def new_api(url):
    """A new SDK client: a new connection pool, as each runner secret had."""
    return akeyless.V2Api(akeyless.ApiClient(akeyless.Configuration(host=url)))


def login(api, spec):
    out = api.auth(akeyless.Auth(access_type="access_key", access_id=spec["access_id"],
                                 access_key=spec["access_key"]))
    return out.token


def fetch(api, token, item, item_type):
    """Reads one item the way GitLab Runner dispatched on its type."""
    name = item["name"]
    if item_type == "STATIC_SECRET":
        return api.get_secret_value(akeyless.GetSecretValue(names=[name], token=token))[name]
    if item_type == "DYNAMIC_SECRET":
        return api.get_dynamic_secret_value(
            akeyless.GetDynamicSecretValue(name=name, token=token))
    if item_type == "ROTATED_SECRET":
        return api.get_rotated_secret_value(
            akeyless.GetRotatedSecretValue(names=name, token=token))["value"]
    if item_type == "SSH_CERT_ISSUER":
        return api.get_ssh_certificate(akeyless.GetSSHCertificate(
            cert_issuer_name=name, cert_username=item["cert_user_name"],
            public_key_data=item["public_key_data"], token=token)).data
    if item_type == "PKI_CERT_ISSUER":
        csr = base64.b64encode(item["csr_pem"].encode()).decode()
        return api.get_pki_certificate(akeyless.GetPKICertificate(
            cert_issuer_name=name, csr_data_base64=csr, token=token)).data
    raise SystemExit(f"unknown item type {item_type} for {name}")


KIND_TYPES = {
    "static": "STATIC_SECRET",
    "dynamic": "DYNAMIC_SECRET",
    "rotated": "ROTATED_SECRET",
    "ssh": "SSH_CERT_ISSUER",
    "pki": "PKI_CERT_ISSUER",
}


def report(values, spec):
    """Prints only how many values resolved (never a value)."""
    missing = [i["variable"] for i in spec["items"] if not values.get(i["variable"])]
    if missing:
        raise SystemExit(f"unresolved: {', '.join(missing[:5])}")
    print(json.dumps({"resolved": len(values)}))
