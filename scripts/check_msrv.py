#!/usr/bin/env python3
"""The workspace's `rust-version` must be honest.

It must be at least the `rust-version` of every locked dependency (else a
user on our stated minimum cannot build the lock we ship), and no newer
than the toolchain running this check (scripts/test.sh builds and tests
with it, so that version is known to work).
"""
import json
import re
import subprocess
import sys


def version(text):
    """`1.94.1` as (1, 94, 1); `1.85` as (1, 85, 0)."""
    parts = [int(part) for part in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = set(metadata["workspace_members"])
    ours = {
        p["rust_version"] for p in metadata["packages"] if p["id"] in members and p.get("rust_version")
    }
    if len(ours) != 1:
        sys.exit(f"check_msrv: expected one rust-version across the workspace, found {sorted(ours)}")
    stated = ours.pop()
    needed = max(
        (
            (version(p["rust_version"]), f'{p["name"]} {p["version"]}')
            for p in metadata["packages"]
            if p["id"] not in members and p.get("rust_version")
        ),
        default=((0, 0, 0), "nothing"),
    )
    rustc = subprocess.run(["rustc", "--version"], check=True, capture_output=True, text=True).stdout
    toolchain = version(rustc.split()[1])
    if version(stated) < needed[0]:
        sys.exit(
            f"check_msrv: rust-version = {stated} but {needed[1]} needs "
            f"{'.'.join(map(str, needed[0]))}: raise rust-version in Cargo.toml"
        )
    if version(stated) > toolchain:
        sys.exit(f"check_msrv: rust-version = {stated} is newer than the toolchain checking it ({rustc.strip()})")
    print(f"rust-version {stated}: the newest dependency needs {'.'.join(map(str, needed[0]))} ({needed[1]}); checked with {rustc.strip()}")


if __name__ == "__main__":
    main()
