"""Peer baseline: the `hvac` Vault client reading KV v2 secrets from OpenBao.

Logs in with the same JWT and role as ci-secrets (one login), then reads
every path in turn (one request each, as a hand-written script would) and
prints a JSON object of the `value` fields, so the harness can check that
every secret was read.

Usage: hvac_kv.py ADDRESS ROLE JWT PATH...
"""

import json
import sys

import hvac


def main() -> int:
    address, role, jwt, *paths = sys.argv[1:]
    client = hvac.Client(url=address)
    client.auth.jwt.jwt_login(role=role, jwt=jwt)
    values = {}
    for path in paths:
        secret = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point="secret", raise_on_deleted_version=True
        )
        values[path] = secret["data"]["data"]["value"]
    json.dump(values, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
