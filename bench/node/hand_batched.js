// Peer: the hand-batched script of bench/python/hand_batched.py on the
// official Akeyless npm SDK (`akeyless`, pinned in package.json). The author
// knows each item's type in advance (no /describe-item): one client, one
// /auth, one /get-secret-value with every static name, then each other item
// in turn (awaited one after the other, as the Python script does).
//
// Prints only how many values resolved, never a value: {"resolved": n}.
//
// Usage: node hand_batched.js <spec.json>
// (the job spec bench-report writes: url, access_id, access_key, items)

"use strict";

const fs = require("fs");
const akeyless = require("akeyless");

function loadSpec() {
  return JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
}

async function login(api, spec) {
  const out = await api.auth(
    akeyless.Auth.constructFromObject({
      "access-type": "access_key",
      "access-id": spec.access_id,
      "access-key": spec.access_key,
    }),
  );
  return out.token;
}

// Reads one item that is not static, the way akeyless_common.py's fetch does.
async function fetch(api, token, item) {
  const name = item.name;
  switch (item.kind) {
    case "dynamic":
      return api.getDynamicSecretValue(
        akeyless.GetDynamicSecretValue.constructFromObject({ name, token }),
      );
    case "rotated": {
      const out = await api.getRotatedSecretValue(
        akeyless.GetRotatedSecretValue.constructFromObject({ names: name, token }),
      );
      return out.value;
    }
    case "ssh": {
      const out = await api.getSSHCertificate(
        akeyless.GetSSHCertificate.constructFromObject({
          "cert-issuer-name": name,
          "cert-username": item.cert_user_name,
          "public-key-data": item.public_key_data,
          token,
        }),
      );
      return out.data;
    }
    case "pki": {
      const out = await api.getPKICertificate(
        akeyless.GetPKICertificate.constructFromObject({
          "cert-issuer-name": name,
          "csr-data-base64": Buffer.from(item.csr_pem).toString("base64"),
          token,
        }),
      );
      return out.data;
    }
    default:
      throw new Error(`unknown item kind ${item.kind} for ${name}`);
  }
}

// What Python counts as a value: not null, not an empty string or object.
function present(value) {
  if (value === undefined || value === null || value === "") {
    return false;
  }
  return typeof value !== "object" || Object.keys(value).length > 0;
}

// Prints only how many values resolved (never a value).
function report(values, spec) {
  const missing = spec.items.map((i) => i.variable).filter((v) => !present(values[v]));
  if (missing.length > 0) {
    throw new Error(`unresolved: ${missing.slice(0, 5).join(", ")}`);
  }
  process.stdout.write(`${JSON.stringify({ resolved: Object.keys(values).length })}\n`);
}

async function main() {
  const spec = loadSpec();
  const api = new akeyless.V2Api(new akeyless.ApiClient(spec.url));
  const token = await login(api, spec);
  const statics = spec.items.filter((i) => i.kind === "static");
  const values = {};
  if (statics.length > 0) {
    const batch = await api.getSecretValue(
      akeyless.GetSecretValue.constructFromObject({ names: statics.map((i) => i.name), token }),
    );
    for (const item of statics) {
      values[item.variable] = batch[item.name];
    }
  }
  for (const item of spec.items) {
    if (item.kind !== "static") {
      values[item.variable] = await fetch(api, token, item);
    }
  }
  report(values, spec);
}

main().catch((err) => {
  // The status and message only: a response body could hold a value.
  const status = err && err.status ? `HTTP ${err.status}: ` : "";
  process.stderr.write(`hand_batched.js: ${status}${err && err.message}\n`);
  process.exit(1);
});
