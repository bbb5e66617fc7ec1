"""Baseline 1: what GitLab Runner (17.4 to 18.2) did for Akeyless secrets,
on the official SDK. For each secret, in turn: a new client, /auth,
/describe-item, then the read its item type needs.

Usage: python runner_like.py <spec.json>
"""

import akeyless

from akeyless_common import fetch, load_spec, login, new_api, report


def main():
    spec = load_spec()
    values = {}
    for item in spec["items"]:
        api = new_api(spec["url"])
        token = login(api, spec)
        described = api.describe_item(akeyless.DescribeItem(
            name=item["name"], token=token))
        values[item["variable"]] = fetch(api, token, item, described.item_type)
    report(values, spec)


if __name__ == "__main__":
    main()
