"""Baseline 2: a hand-batched script on the official SDK. The author knows
each item's type in advance (no /describe-item): one client, one /auth, one
/get-secret-value with every static name, then each other item in turn (the
SDK is synchronous).

Usage: python hand_batched.py <spec.json>
"""

import akeyless

from akeyless_common import KIND_TYPES, fetch, load_spec, login, new_api, report


def main():
    spec = load_spec()
    api = new_api(spec["url"])
    token = login(api, spec)
    statics = [i for i in spec["items"] if i["kind"] == "static"]
    values = {}
    if statics:
        batch = api.get_secret_value(akeyless.GetSecretValue(
            names=[i["name"] for i in statics], token=token))
        for item in statics:
            values[item["variable"]] = batch[item["name"]]
    for item in spec["items"]:
        if item["kind"] != "static":
            values[item["variable"]] = fetch(api, token, item, KIND_TYPES[item["kind"]])
    report(values, spec)


if __name__ == "__main__":
    main()
