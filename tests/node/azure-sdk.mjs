#!/usr/bin/env node
// skr-emulator driven by Microsoft's Azure SDK for JavaScript, as an app developer points it at
// the emulator for local work: @azure/identity's ManagedIdentityCredential against the emulated
// IMDS, @azure/keyvault-keys' KeyClient against the emulated vault with the SDK's default service
// version. Create (exportable RSA-HSM with a release policy), get, list keys and versions, rotate,
// and release with a token from the emulated MAA (report from the emulated chip through skrctl).
//
// Settings: the SDK's defaults, except `disableChallengeResourceVerification`. The SDK checks
// that the vault's host ends in the challenge's resource domain (`.vault.azure.net`); a loopback
// address never does, so a local vault needs that one option (docs/emulator.md).
//
// The environment must carry NODE_EXTRA_CA_CERTS = the emulator's ca.pem (read by Node at start)
// and AZURE_POD_IDENTITY_AUTHORITY_HOST = the emulated IMDS URL; run-check.sh sets both.
// Usage: node azure-sdk.mjs --state DIR --skrctl PATH. Exits 1 on the first failure.
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ManagedIdentityCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';

let checks = 0;
function ok(what) {
  checks += 1;
  console.log(`ok   ${what}`);
}
function check(cond, what, detail) {
  if (!cond) throw new Error(`${what}${detail ? `: ${typeof detail === 'function' ? detail() : detail}` : ''}`);
  ok(what);
}

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.state || !args.skrctl) {
  console.error('usage: node azure-sdk.mjs --state DIR --skrctl PATH');
  process.exit(2);
}

function readEndpoints(file) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^(?:export\s+)?([A-Z0-9_]+)='(.*)'$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return env;
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();

// Plain HTTP(S) for the admin API, THIM and MAA (fetch trusts NODE_EXTRA_CA_CERTS).
async function json(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function main() {
  const env = readEndpoints(path.join(args.state, 'endpoints.env'));
  const { SKR_EMULATOR_VAULT_URL: vault, SKR_EMULATOR_MAA_URL: maa, SKR_EMULATOR_IMDS_URL: imds,
    SKR_EMULATOR_ADMIN_URL: admin, SKR_EMULATOR_CHIP_DIR: chipDir } = env;
  check(process.env.NODE_EXTRA_CA_CERTS && process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST === imds,
    'environment: NODE_EXTRA_CA_CERTS and AZURE_POD_IDENTITY_AUTHORITY_HOST (the emulated IMDS)');
  const versions = ['@azure/identity', '@azure/keyvault-keys'].map((p) => `${p} ${JSON.parse(
    fs.readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url), 'utf8')).version}`);
  console.log(`info ${versions.join(', ')}, node ${process.version}, vault ${vault}`);

  // A user-assigned identity with Key Vault Crypto Officer (create, rotate and release).
  const identity = await json('POST', `${admin}/_emulator/identities`, { kind: 'user', name: 'azure-sdk-app' });
  await json('POST', `${admin}/_emulator/role-assignments`, {
    principal_id: identity.object_id, role: 'Key Vault Crypto Officer', vault: 'vault', scope: '/',
  });
  const hostData = crypto.randomBytes(32).toString('hex');
  await json('PUT', `${admin}/_emulator/chip`, { host_data: hostData });

  // Managed identity through the SDK: it asks the emulated IMDS (trailing-slash path included).
  const credential = new ManagedIdentityCredential({ clientId: identity.client_id });
  const token = await credential.getToken('https://vault.azure.net/.default');
  const claims = JSON.parse(Buffer.from(token.token.split('.')[1], 'base64url').toString('utf8'));
  check(claims.appid === identity.client_id && claims.aud === 'https://vault.azure.net',
    'ManagedIdentityCredential: token for the identity, audience https://vault.azure.net',
    () => JSON.stringify({ appid: claims.appid, aud: claims.aud }));

  const client = new KeyClient(vault, credential, { disableChallengeResourceVerification: true });
  const policy = {
    version: '1.0.0',
    anyOf: [{
      authority: maa,
      allOf: [
        { claim: 'x-ms-attestation-type', equals: 'sevsnpvm' },
        { claim: 'x-ms-sevsnpvm-hostdata', equals: hostData },
      ],
    }],
  };
  const name = `azure-sdk-${crypto.randomBytes(4).toString('hex')}`;
  const created = await client.createRsaKey(name, {
    hsm: true, keySize: 2048, exportable: true, keyOps: ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt'],
    releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy), 'utf8') },
  });
  check(created.keyType === 'RSA-HSM' && created.properties.exportable === true &&
        created.id.startsWith(`${vault}/keys/${name}/`),
  `createRsaKey: ${name} (RSA-HSM, exportable, with a release policy)`, () => JSON.stringify(created.properties));
  check(JSON.parse(Buffer.from(created.properties.releasePolicy.encodedPolicy).toString('utf8')).anyOf[0]
    .authority === maa, 'createRsaKey: the release policy comes back');

  const got = await client.getKey(name);
  check(got.id === created.id && got.key.n.length === 256, 'getKey: the same version, 2048-bit modulus');

  const names = [];
  for await (const p of client.listPropertiesOfKeys()) names.push(p.name);
  check(names.includes(name), 'listPropertiesOfKeys: lists the key', () => names.join(','));

  const rotated = await client.rotateKey(name);
  check(rotated.id !== created.id && rotated.name === name, 'rotateKey: a new version');
  const ids = [];
  for await (const p of client.listPropertiesOfKeyVersions(name)) ids.push(p.id);
  check(ids.length === 2 && ids.includes(created.id) && ids.includes(rotated.id),
    'listPropertiesOfKeyVersions: both versions', () => ids.join(','));

  // An MAA token for a fresh transfer key: runtime data -> report (skrctl, emulated chip) -> THIM
  // -> MAA, as a confidential container would get one.
  const transfer = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tjwk = transfer.publicKey.export({ format: 'jwk' });
  const runtimeData = Buffer.from(JSON.stringify({
    keys: [{ e: tjwk.e, key_ops: ['encrypt'], kid: 'azure-sdk-transfer', kty: 'RSA', n: tjwk.n }],
  }), 'utf8');
  const reportData = Buffer.concat([sha256(runtimeData), Buffer.alloc(32)]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skr-azure-sdk-'));
  let report;
  try {
    execFileSync(args.skrctl, ['report', 'get', '--platform', 'emulated', '--chip-dir', chipDir,
      '--report-data', reportData.toString('hex'), '--out', path.join(tmp, 'report.bin')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    report = fs.readFileSync(path.join(tmp, 'report.bin'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const thim = await json('GET', `${imds}/metadata/THIM/amd/certification`, undefined, { Metadata: 'true' });
  const attest = await json('POST', `${maa}/attest/SevSnpVm?api-version=2022-08-01`, {
    report: b64url(JSON.stringify({
      SnpReport: b64url(report), VcekCertChain: b64url(thim.vcekCert + thim.certificateChain),
    })),
    runtimeData: { data: b64url(runtimeData), dataType: 'JSON' },
  });
  ok('MAA: a token for the transfer key (report from the emulated chip)');

  // Release through the SDK: the latest version, wrapped for the transfer key.
  const released = await client.releaseKey(name, attest.token, { algorithm: 'CKM_RSA_AES_KEY_WRAP' });
  const [, payloadB64] = released.value.split('.');
  const payload = JSON.parse(Buffer.from(payloadB64, 'base64url').toString('utf8'));
  check(payload.response?.key?.key?.kid === rotated.id && typeof payload.response.key.key.key_hsm === 'string',
    'releaseKey: the rotated (latest) version, key_hsm for the transfer key',
    () => JSON.stringify(payload.request));
  // @azure/keyvault-keys 4.10's default service version (its LATEST_API_VERSION).
  check(payload.request?.['api-version'] === '2025-07-01',
    'releaseKey: sent with the SDK\'s default api-version 2025-07-01', () => JSON.stringify(payload.request));
  // key_hsm (CKM_RSA_AES_KEY_WRAP): RSA-OAEP(SHA-1) of an AES-256 KEK, then AES-KWP of the
  // private key (PKCS#8), which must be the rotated version's key.
  const blob = JSON.parse(Buffer.from(payload.response.key.key.key_hsm, 'base64url').toString('utf8'));
  const ct = Buffer.from(blob.ciphertext, 'base64url');
  const kek = crypto.privateDecrypt({ key: transfer.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
    oaepHash: 'sha1' }, ct.subarray(0, 256));
  const unwrap = crypto.createDecipheriv('id-aes256-wrap-pad', kek, Buffer.from('A65959A6', 'hex'));
  const pkcs8 = Buffer.concat([unwrap.update(ct.subarray(256)), unwrap.final()]);
  const releasedJwk = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  check(releasedJwk.n === Buffer.from(rotated.key.n).toString('base64url'),
    'key_hsm: the transfer key unwraps the private key of the rotated version');

  console.log(`azure-sdk: ${checks} checks passed`);
}

main().catch((e) => {
  console.error(`FAIL ${e.message}`);
  if (e.statusCode) console.error(`     HTTP ${e.statusCode} ${e.code ?? ''} ${e.request?.url ?? ''}`);
  process.exit(1);
});
