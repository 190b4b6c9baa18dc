#!/usr/bin/env node
// Independent check of skr-emulator's wire formats (spec/azure-wire.md §1, §2, §0) with the npm
// `jose` package and Node's own crypto. Nothing of skr's C++ code is used except `skrctl report get`
// to obtain an SEV-SNP report from the emulated chip. The flow is the one a confidential container
// runs against Azure:
//   admin API: identities, roles, emulated chip HOST_DATA; Key Vault: exportable RSA-HSM key with an
//   ACI-style release policy whose authority is the emulator's MAA;
//   transfer key (node:crypto) -> runtimeData JWKS -> REPORT_DATA -> skrctl report get -> THIM certs
//   -> POST /attest/SevSnpVm -> MAA JWT verified with jose against GET /certs (x5c only);
//   IMDS token -> POST /keys/{name}/release for each `enc` -> JWS verified with jose against x5c[0],
//   x5c chained to ca.pem, key_hsm unwrapped (RSA-OAEP + AES-KWP) -> PKCS#8 compared with the key.
//
// Usage: node verify-emulator.mjs --state DIR [--skrctl PATH]
//   DIR is the emulator's state directory (DIR/endpoints.env, DIR/ca.pem); skrctl defaults to
//   $SKRCTL. Prints one line per check; exits 1 on the first failure, 2 on usage errors.
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import * as jose from 'jose';

// ---------------------------------------------------------------------------------------------
// Output and failure

let checks = 0;
class CheckFailure extends Error {}

function ok(what) {
  checks += 1;
  console.log(`ok   ${what}`);
}
function fail(what, detail) {
  throw new CheckFailure(`${what}${detail ? `: ${detail}` : ''}`);
}
function check(cond, what, detail) {
  if (!cond) fail(what, typeof detail === 'function' ? detail() : detail);
  ok(what);
}
function equal(actual, expected, what) {
  check(actual === expected, what,
        () => `expected ${short(expected)}, got ${short(actual)}`);
}
function short(v) {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v));
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
// Runs an async step; a thrown error (HTTP, crypto, jose) becomes a failure of `what`.
async function step(what, fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CheckFailure) throw e;
    fail(what, `${e.code ? `${e.code}: ` : ''}${e.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Arguments and emulator endpoints

function usage(msg) {
  console.error(`verify-emulator: ${msg}`);
  console.error('usage: node verify-emulator.mjs --state DIR [--skrctl PATH]');
  process.exit(2);
}

const args = { state: undefined, skrctl: process.env.SKRCTL };
for (let i = 2; i < process.argv.length; i += 1) {
  const a = process.argv[i];
  if (a === '--state' || a === '--skrctl') {
    if (i + 1 >= process.argv.length) usage(`${a} needs a value`);
    args[a.slice(2)] = process.argv[++i];
  } else {
    usage(`unknown argument '${a}'`);
  }
}
if (!args.state) usage('--state DIR is required');
if (!args.skrctl) usage('--skrctl PATH (or $SKRCTL) is required');

// endpoints.env: KEY='value' lines (shell single quotes, possibly '\'' inside).
function readEndpoints(file) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^(?:export\s+)?([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2];
    if (v.startsWith("'")) v = v.replace(/^'|'$/g, '').replace(/'\\''/g, "'");
    else if (v.startsWith('"')) v = v.replace(/^"|"$/g, '');
    env[m[1]] = v;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Encodings (spec §0)

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const isB64UrlNoPad = (s) => typeof s === 'string' && /^[A-Za-z0-9_-]*$/.test(s);
const isStdB64 = (s) => typeof s === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();
const derToPem = (b64) => `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
function splitPem(text) {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
// JSON with sorted object members, to compare documents a server may have re-serialized.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------
// HTTP: node:https with the emulator CA (fetch cannot take a CA), node:http for IMDS and admin.

let caPem;
function request(method, url, { headers = {}, body } = {}) {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  const data = body === undefined ? undefined
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const h = { Accept: 'application/json', ...headers };
  if (data) {
    h['Content-Type'] = h['Content-Type'] ?? 'application/json';
    h['Content-Length'] = data.length;
  }
  const where = `${method} ${u.origin}${u.pathname}`;  // no query: it may name identities
  return new Promise((resolve, rejectRaw) => {
    const reject = (e) => rejectRaw(new CheckFailure(`${where}: ${e.code ?? e.message}`));
    const req = lib.request(u, {
      method, headers: h, timeout: 30000,
      ...(u.protocol === 'https:' ? { ca: caPem, agent: false } : { agent: false }),
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no response within 30 s')));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}
async function expectJson(what, res, status = 200) {
  if (res.status !== status || res.json === undefined) {
    fail(what, `HTTP ${res.status} (expected ${status}): ${res.text.slice(0, 400)}`);
  }
  return res.json;
}

// ---------------------------------------------------------------------------------------------
// The checks

async function main() {
  const env = readEndpoints(path.join(args.state, 'endpoints.env'));
  caPem = fs.readFileSync(env.SKR_EMULATOR_CA_FILE || path.join(args.state, 'ca.pem'), 'utf8');
  const caCert = new crypto.X509Certificate(caPem);
  for (const k of ['SKR_EMULATOR_IMDS_URL', 'SKR_EMULATOR_VAULT_URL', 'SKR_EMULATOR_MAA_URL',
    'SKR_EMULATOR_ADMIN_URL', 'SKR_EMULATOR_CHIP_DIR']) {
    if (!env[k]) fail('endpoints.env', `${k} is missing`);
  }
  const { SKR_EMULATOR_IMDS_URL: imds, SKR_EMULATOR_VAULT_URL: vault, SKR_EMULATOR_MAA_URL: maa,
    SKR_EMULATOR_ADMIN_URL: admin, SKR_EMULATOR_CHIP_DIR: chipDir } = env;
  console.log(`node ${process.version}, jose ${JSON.parse(fs.readFileSync(
    new URL('./node_modules/jose/package.json', import.meta.url), 'utf8')).version}, ` +
    `MAA ${maa}, vault ${vault}`);

  // (a) Admin API: an officer that creates the key, a release user that releases it; HOST_DATA.
  const adminJson = async (what, method, p, body) =>
    expectJson(what, await request(method, admin + p, { body }), 201);
  const officer = await adminJson('admin: create officer identity', 'POST', '/_emulator/identities',
    { kind: 'user', name: 'node-jose-officer' });
  await adminJson('admin: officer role', 'POST', '/_emulator/role-assignments',
    { principal_id: officer.object_id, role: 'Key Vault Crypto Officer', vault: 'vault', scope: '/' });
  const releaser = await adminJson('admin: create release identity', 'POST', '/_emulator/identities',
    { kind: 'user', name: 'node-jose-release' });
  await adminJson('admin: release role', 'POST', '/_emulator/role-assignments',
    { principal_id: releaser.object_id, role: 'Key Vault Crypto Service Release User',
      vault: 'vault', scope: '/' });
  ok(`admin: identities ${officer.client_id} (Crypto Officer), ${releaser.client_id} (Release User)`);

  const hostData = crypto.randomBytes(32).toString('hex');
  await expectJson('admin: set chip HOST_DATA',
    await request('PUT', `${admin}/_emulator/chip`, { body: { host_data: hostData } }));
  ok('admin: emulated chip HOST_DATA set');

  const imdsToken = async (what, clientId) => {
    const q = new URLSearchParams({ 'api-version': '2018-02-01', resource: 'https://vault.azure.net',
      client_id: clientId });
    const t = await expectJson(what, await request('GET',
      `${imds}/metadata/identity/oauth2/token?${q}`, { headers: { Metadata: 'true' } }));
    check(typeof t.access_token === 'string' && t.token_type === 'Bearer' &&
          typeof t.expires_in === 'string', `${what}: IMDS token response (string fields)`,
          () => short(Object.keys(t)));
    return t.access_token;
  };
  const officerToken = await imdsToken('IMDS token for the officer', officer.client_id);

  // ACI-style release policy (spec §3.3 b) bound to this chip's HOST_DATA and the emulator's MAA.
  // No compliance-status condition: the emulated UVM has no Microsoft endorsement.
  const policy = {
    version: '1.0.0',
    anyOf: [{
      authority: maa,
      allOf: [
        { claim: 'x-ms-attestation-type', equals: 'sevsnpvm' },
        { claim: 'x-ms-sevsnpvm-hostdata', equals: hostData },
        { claim: 'x-ms-sevsnpvm-is-debuggable', equals: 'false' },
        { claim: 'x-ms-sevsnpvm-vmpl', equals: '0' },
      ],
    }],
  };
  const keyName = `node-jose-${crypto.randomBytes(4).toString('hex')}`;
  const created = await expectJson('vault: create exportable RSA-HSM key', await request('POST',
    `${vault}/keys/${keyName}/create?api-version=7.4`, {
      headers: { Authorization: `Bearer ${officerToken}` },
      body: {
        kty: 'RSA-HSM', key_size: 2048, key_ops: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
        attributes: { enabled: true, exportable: true },
        release_policy: { contentType: 'application/json; charset=utf-8',
          data: b64url(JSON.stringify(policy)), immutable: false },
      },
    }));
  const vaultJwk = created.key;
  check(vaultJwk && vaultJwk.kty === 'RSA-HSM' && isB64UrlNoPad(vaultJwk.n) && vaultJwk.e === 'AQAB'
        && created.attributes?.exportable === true,
        `vault: key ${keyName} created (RSA-HSM, exportable, public n/e)`, () => short(created));

  // (b) Transfer key and runtimeData (spec §1.2): JWKS JSON, REPORT_DATA = sha256 || 32 zeros.
  const transfer = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const tjwk = transfer.publicKey.export({ format: 'jwk' });
  const transferKid = 'node-jose-transfer-key';
  const runtimeJwk = { e: tjwk.e, key_ops: ['encrypt'], kid: transferKid, kty: 'RSA', n: tjwk.n };
  const runtimeData = Buffer.from(JSON.stringify({ keys: [runtimeJwk] }), 'utf8');
  const reportData = Buffer.concat([sha256(runtimeData), Buffer.alloc(32)]);
  ok(`runtimeData: JWKS of a fresh RSA-2048 transfer key (${runtimeData.length} bytes), ` +
     'REPORT_DATA = sha256 || 32 zero bytes');

  // (c) SNP report from the emulated chip through skrctl; VCEK chain from IMDS THIM.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skr-node-check-'));
  let report;
  try {
    const out = path.join(tmp, 'report.bin');
    await step('skrctl report get', () => execFileSync(args.skrctl, ['report', 'get', '--platform',
      'emulated', '--chip-dir', chipDir, '--report-data', reportData.toString('hex'), '--out', out],
    { stdio: ['ignore', 'pipe', 'pipe'] }));
    report = fs.readFileSync(out);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  equal(report.length, 1184, 'SNP report: 1184 bytes');
  check(report.subarray(0x50, 0x90).equals(reportData), 'SNP report: REPORT_DATA @0x50 is ours');
  equal(report.subarray(0xC0, 0xE0).toString('hex'), hostData, 'SNP report: HOST_DATA @0xC0');
  const policyBits = report.readBigUInt64LE(0x08);
  check((policyBits & (1n << 17n)) !== 0n && (policyBits & (1n << 19n)) === 0n,
        'SNP report: POLICY bit 17 set, DEBUG clear', `policy 0x${policyBits.toString(16)}`);

  const thim = await expectJson('IMDS THIM', await request('GET',
    `${imds}/metadata/THIM/amd/certification`, { headers: { Metadata: 'true' } }));
  check(typeof thim.vcekCert === 'string' && typeof thim.certificateChain === 'string' &&
        /^[0-9A-Fa-f]{16}$/.test(thim.tcbm ?? ''), 'IMDS THIM: {vcekCert, tcbm, certificateChain}',
        () => short(Object.keys(thim)));
  const [vcekPem] = splitPem(thim.vcekCert);
  const [askPem, arkPem] = splitPem(thim.certificateChain);
  check(vcekPem && askPem && arkPem, 'IMDS THIM: VCEK PEM, chain = ASK PEM + ARK PEM');
  const vcek = new crypto.X509Certificate(vcekPem);
  const ask = new crypto.X509Certificate(askPem);
  const ark = new crypto.X509Certificate(arkPem);
  check(ark.verify(ark.publicKey) && ask.verify(ark.publicKey) && vcek.verify(ask.publicKey),
        'THIM chain: ARK self-signed, ARK signs ASK, ASK signs VCEK (node:crypto)');
  equal(BigInt(`0x${thim.tcbm}`), report.readBigUInt64LE(0x180), 'THIM tcbm = REPORTED_TCB');
  // Report signature (spec §6.3): ECDSA P-384/SHA-384, r and s 72-byte little-endian.
  const le48 = (off) => Buffer.from(report.subarray(off, off + 48)).reverse();
  const sigP1363 = Buffer.concat([le48(0x2A0), le48(0x2E8)]);
  check(crypto.verify('sha384', report.subarray(0, 0x2A0),
    { key: vcek.publicKey, dsaEncoding: 'ieee-p1363' }, sigP1363),
  'SNP report: signature verifies with the THIM VCEK (node:crypto)');

  // (d) MAA attestation (spec §1.2) and token verification with jose against /certs (§1.6, §1.7).
  const maaReport = {
    SnpReport: b64url(report),
    VcekCertChain: b64url(Buffer.from(thim.vcekCert + thim.certificateChain, 'utf8')),
  };
  const nonce = crypto.randomBytes(8).toString('hex');
  const attest = await expectJson('MAA: POST /attest/SevSnpVm', await request('POST',
    `${maa}/attest/SevSnpVm?api-version=2022-08-01`, {
      body: {
        report: b64url(Buffer.from(JSON.stringify(maaReport), 'utf8')),
        runtimeData: { data: b64url(runtimeData), dataType: 'JSON' },
        nonce,
      },
    }));
  const token = attest.token;
  check(typeof token === 'string' && token.split('.').length === 3 &&
        token.split('.').every(isB64UrlNoPad), 'MAA: {"token"} is a compact JWT, base64url without padding',
        () => short(attest));
  const jwtHeader = jose.decodeProtectedHeader(token);
  check(jwtHeader.alg === 'RS256' && jwtHeader.typ === 'JWT' && typeof jwtHeader.kid === 'string',
        'MAA token header: alg RS256, typ JWT, kid', () => short(jwtHeader));
  equal(jwtHeader.jku, `${maa}/certs`, 'MAA token header: jku = {iss}/certs');

  const oidc = await expectJson('MAA: GET /.well-known/openid-configuration',
    await request('GET', `${maa}/.well-known/openid-configuration`));
  check(oidc.issuer === maa && oidc.jwks_uri === `${maa}/certs`,
        'MAA OpenID metadata: issuer = MAA URL, jwks_uri = {issuer}/certs',
        () => short({ issuer: oidc.issuer, jwks_uri: oidc.jwks_uri }));

  const certs = await expectJson('MAA: GET /certs', await request('GET', `${maa}/certs`));
  check(Array.isArray(certs.keys) && certs.keys.length > 0 && certs.keys.every((k) =>
    typeof k.kid === 'string' && typeof k.kty === 'string' && Array.isArray(k.x5c) &&
    k.x5c.length > 0 && k.x5c.every(isStdB64)),
  'MAA /certs: JWKS, every key has kid, kty and x5c (standard base64 DER)', () => short(certs));
  // x5c-only JWKS (spec §1.6): jose's createLocalJWKSet needs n/e, so the key comes from x5c[0]
  // through importX509, selected by kid like a JWKS resolver would.
  const certKey = certs.keys.find((k) => k.kid === jwtHeader.kid);
  check(certKey, 'MAA /certs: has the token\'s kid', () => `kid ${jwtHeader.kid} not in ${short(certs.keys.map((k) => k.kid))}`);
  const maaCert = new crypto.X509Certificate(Buffer.from(certKey.x5c[0], 'base64'));
  // Self-issued (issuer name = subject name) and self-signed. Not checkIssued(): OpenSSL's
  // X509_check_issued also wants keyCertSign, which a CA:FALSE signing certificate need not have.
  check(maaCert.issuer === maaCert.subject && maaCert.verify(maaCert.publicKey) &&
        maaCert.subject.split('\n').includes(`CN=${maa}`),
  'MAA /certs: x5c[0] is self-issued and self-signed, CN = the MAA URL',
  () => `subject ${JSON.stringify(maaCert.subject)}, issuer ${JSON.stringify(maaCert.issuer)}`);
  const resolveMaaKey = async (header) => {
    const k = certs.keys.find((j) => j.kid === header.kid);
    if (!k) throw new Error(`no key with kid ${header.kid}`);
    return jose.importX509(derToPem(k.x5c[0]), 'RS256');
  };
  const { payload: claims } = await step('MAA token: jose jwtVerify', () => jose.jwtVerify(token,
    resolveMaaKey, { issuer: maa, algorithms: ['RS256'], clockTolerance: 60 }));
  ok('MAA token: jose jwtVerify with the /certs x5c key (RS256, iss = MAA URL, exp/nbf)');
  if (certs.keys.some((k) => k.n !== undefined)) {
    // With n/e present the standard JWKS path must give the same answer.
    await step('MAA token: jose createLocalJWKSet', () => jose.jwtVerify(token,
      jose.createLocalJWKSet(certs), { issuer: maa, algorithms: ['RS256'] }));
    ok('MAA token: also verifies through jose createLocalJWKSet');
  }
  const tampered = `${token.split('.').slice(0, 2).join('.')}.${b64url(crypto.randomBytes(256))}`;
  let rejected = false;
  try { await jose.jwtVerify(tampered, resolveMaaKey, { issuer: maa, algorithms: ['RS256'] }); } catch { rejected = true; }
  check(rejected, 'MAA token: jose rejects a token with a foreign signature');

  equal(claims['x-ms-attestation-type'], 'sevsnpvm', 'MAA claim x-ms-attestation-type');
  equal(claims['x-ms-ver'], '1.0', 'MAA claim x-ms-ver');
  check(Number.isInteger(claims.iat) && Number.isInteger(claims.nbf) && Number.isInteger(claims.exp)
        && claims.exp > claims.iat, 'MAA claims iat/nbf/exp are integers, exp > iat');
  check(typeof claims.jti === 'string' && claims.jti.length > 0, 'MAA claim jti');
  equal(claims.nonce, nonce, 'MAA claim nonce echoed as a string');
  const rtKeys = claims['x-ms-runtime']?.keys;
  check(Array.isArray(rtKeys) && rtKeys.length > 0, 'MAA claim x-ms-runtime.keys is an array');
  check(rtKeys[0].kty === 'RSA' && rtKeys[0].n === runtimeJwk.n && rtKeys[0].e === runtimeJwk.e &&
        rtKeys[0].kid === transferKid && JSON.stringify(rtKeys[0].key_ops) === '["encrypt"]',
  'MAA claim x-ms-runtime.keys[0] is our transfer key', () => short(rtKeys[0]));
  equal(claims['x-ms-sevsnpvm-reportdata'], reportData.toString('hex'),
    'MAA claim x-ms-sevsnpvm-reportdata = sha256(runtimeData) || zeros, lower-case hex');
  equal(claims['x-ms-sevsnpvm-hostdata'], hostData, 'MAA claim x-ms-sevsnpvm-hostdata');
  equal(claims['x-ms-sevsnpvm-launchmeasurement'], report.subarray(0x90, 0xC0).toString('hex'),
    'MAA claim x-ms-sevsnpvm-launchmeasurement = MEASUREMENT @0x90');
  equal(claims['x-ms-sevsnpvm-reportid'], report.subarray(0x140, 0x160).toString('hex'),
    'MAA claim x-ms-sevsnpvm-reportid = REPORT_ID @0x140');
  equal(claims['x-ms-sevsnpvm-vmpl'], report.readUInt32LE(0x30), 'MAA claim x-ms-sevsnpvm-vmpl (number)');
  equal(claims['x-ms-sevsnpvm-guestsvn'], report.readUInt32LE(0x04), 'MAA claim x-ms-sevsnpvm-guestsvn (number)');
  equal(claims['x-ms-sevsnpvm-is-debuggable'], false, 'MAA claim x-ms-sevsnpvm-is-debuggable (boolean)');
  check(typeof claims['x-ms-sevsnpvm-smt-allowed'] === 'boolean' &&
        typeof claims['x-ms-sevsnpvm-migration-allowed'] === 'boolean',
  'MAA claims smt-allowed / migration-allowed are booleans');
  check(isB64UrlNoPad(claims['x-ms-policy-hash']) && claims['x-ms-policy-hash'].length > 0,
        'MAA claim x-ms-policy-hash is base64url', () => short(claims['x-ms-policy-hash']));
  // No UVM endorsement was sent, so the token must not claim Azure compliance (spec §9).
  equal(claims['x-ms-compliance-status'], undefined,
    'MAA claim x-ms-compliance-status absent without a UVM endorsement');
  equal(claims['x-ms-emulated'], true, 'MAA claim x-ms-emulated (docs/emulator.md)');
  const tcb = report.subarray(0x180, 0x188);
  check(claims['x-ms-sevsnpvm-bootloader-svn'] === tcb[0] && claims['x-ms-sevsnpvm-tee-svn'] === tcb[1]
        && claims['x-ms-sevsnpvm-snpfw-svn'] === tcb[6] && claims['x-ms-sevsnpvm-microcode-svn'] === tcb[7],
  'MAA claims *-svn = REPORTED_TCB bytes (numbers)', () => short({ tcb: [...tcb],
    bl: claims['x-ms-sevsnpvm-bootloader-svn'], tee: claims['x-ms-sevsnpvm-tee-svn'],
    snp: claims['x-ms-sevsnpvm-snpfw-svn'], ucode: claims['x-ms-sevsnpvm-microcode-svn'] }));
  for (const [claim, off, len] of [['x-ms-sevsnpvm-familyId', 0x10, 16], ['x-ms-sevsnpvm-imageId', 0x20, 16],
    ['x-ms-sevsnpvm-idkeydigest', 0xE0, 48], ['x-ms-sevsnpvm-authorkeydigest', 0x110, 48]]) {
    equal(claims[claim], report.subarray(off, off + len).toString('hex'), `MAA claim ${claim}`);
  }

  // (e) Release with an IMDS access token of the release identity, for each `enc` (spec §2.1).
  const releaseToken = await imdsToken('IMDS token for the release identity', releaser.client_id);
  const encs = [['CKM_RSA_AES_KEY_WRAP', 'sha1'], ['RSA_AES_KEY_WRAP_256', 'sha256'],
    ['RSA_AES_KEY_WRAP_384', 'sha384']];
  for (const [enc, oaepHash] of encs) {
    const releaseNonce = crypto.randomBytes(8).toString('hex');
    const rel = await expectJson(`release ${enc}: POST /keys/${keyName}/release`, await request('POST',
      `${vault}/keys/${keyName}/release?api-version=7.4`, {
        headers: { Authorization: `Bearer ${releaseToken}` },
        body: { target: token, enc, nonce: releaseNonce },
      }));
    const jws = rel.value;
    check(typeof jws === 'string' && jws.split('.').length === 3 && jws.split('.').every(isB64UrlNoPad),
          `release ${enc}: {"value"} is a compact JWS, base64url without padding`, () => short(rel));
    const hdr = jose.decodeProtectedHeader(jws);
    check(hdr.alg === 'RS256' && Array.isArray(hdr.x5c) && hdr.x5c.length > 0 && hdr.x5c.every(isStdB64),
          `release ${enc}: JWS header alg RS256, x5c of standard base64 DER`, () => short(hdr));
    check(typeof hdr.kid === 'string' && hdr.kid.length > 0, `release ${enc}: JWS header kid`);
    const leafDer = Buffer.from(hdr.x5c[0], 'base64');
    equal(hdr['x5t#S256'], b64url(sha256(leafDer)), `release ${enc}: x5t#S256 = SHA-256 of x5c[0]`);
    const leafKey = await step(`release ${enc}: jose importX509(x5c[0])`,
      () => jose.importX509(derToPem(hdr.x5c[0]), 'RS256'));
    const { payload: rawPayload } = await step(`release ${enc}: jose compactVerify`,
      () => jose.compactVerify(jws, leafKey, { algorithms: ['RS256'] }));
    ok(`release ${enc}: jose compactVerify with x5c[0]`);
    // x5c chain: each certificate issued and signed by the next, the last one by ca.pem.
    const chain = hdr.x5c.map((b) => new crypto.X509Certificate(Buffer.from(b, 'base64')));
    for (let i = 0; i + 1 < chain.length; i += 1) {
      check(chain[i].checkIssued(chain[i + 1]) && chain[i].verify(chain[i + 1].publicKey),
            `release ${enc}: x5c[${i}] issued and signed by x5c[${i + 1}]`,
            () => `${chain[i].issuer} vs ${chain[i + 1].subject}`);
    }
    const top = chain[chain.length - 1];
    check(top.fingerprint256 === caCert.fingerprint256 ||
          (top.checkIssued(caCert) && top.verify(caCert.publicKey)),
    `release ${enc}: x5c chains to the emulator CA (ca.pem)`, () => `top issuer ${top.issuer}`);
    const leaf = chain[0];
    const vaultHost = new URL(vault).hostname;
    check(leaf.checkHost(vaultHost) !== undefined || leaf.checkIP(vaultHost) !== undefined,
          `release ${enc}: x5c[0] names the vault host ${vaultHost}`, () => leaf.subjectAltName ?? leaf.subject);
    const now = Date.now();
    check(Date.parse(leaf.validFrom) <= now + 60000 && now < Date.parse(leaf.validTo),
          `release ${enc}: x5c[0] is within its validity period`);

    const payload = JSON.parse(Buffer.from(rawPayload).toString('utf8'));
    equal(payload.request?.enc, enc, `release ${enc}: payload request.enc`);
    equal(payload.request?.['api-version'], '7.4', `release ${enc}: payload request.api-version echoed`);
    check(typeof payload.request?.kid === 'string' &&
          new RegExp(`^${vault.replace(/[.]/g, '\\.')}/keys/${keyName}/[0-9a-f]{32}$`).test(payload.request.kid),
    `release ${enc}: payload request.kid = {vault}/keys/{name}/{32-hex version}`, () => short(payload.request));
    if (payload.request.nonce !== releaseNonce) {
      console.log(`note release ${enc}: request.nonce not echoed (${short(payload.request.nonce)}; ` +
                  'the spec only infers the echo)');
    }
    const key = payload.response?.key?.key;
    check(key && key.kty === 'RSA-HSM' && typeof key.key_hsm === 'string' && isB64UrlNoPad(key.key_hsm),
          `release ${enc}: payload response.key.key = {kty RSA-HSM, key_hsm base64url}`,
          () => short(key && { ...key, key_hsm: '...' }));
    equal(key.kid, vaultJwk.kid, `release ${enc}: released kid = created kid`);
    check(payload.response.key.attributes?.exportable === true,
          `release ${enc}: payload response.key.attributes.exportable`);
    const rp = payload.response.key.release_policy;
    equal(rp?.contentType, 'application/json; charset=utf-8',
      `release ${enc}: payload release_policy.contentType`);
    check(rp && isB64UrlNoPad(rp.data) &&
          canonical(JSON.parse(Buffer.from(rp.data, 'base64url').toString('utf8'))) === canonical(policy),
    `release ${enc}: payload response.key.release_policy.data is our policy (base64url)`,
    () => short(rp));

    // (f) key_hsm (spec §2.3) and unwrap (spec §2.4) with node:crypto.
    const blob = JSON.parse(Buffer.from(key.key_hsm, 'base64url').toString('utf8'));
    check(blob.schema_version === '1.0.0' && blob.header?.alg === 'dir' && blob.header?.enc === enc &&
          isB64UrlNoPad(blob.ciphertext),
    `release ${enc}: key_hsm {schema_version 1.0.0, header {alg dir, enc}, ciphertext base64url}`,
    () => short({ ...blob, ciphertext: '...' }));
    if (blob.header.kid !== transferKid) {
      console.log(`note release ${enc}: key_hsm header.kid is ${short(blob.header.kid)}, ` +
                  `not the transfer key's kid (the spec only infers it)`);
    }
    const ct = Buffer.from(blob.ciphertext, 'base64url');
    const k = 256;  // RSA-2048 transfer key
    check(ct.length > k && (ct.length - k) % 8 === 0 && ct.length - k >= 16,
          `release ${enc}: ciphertext = ${k} bytes RSA-OAEP + a multiple of 8 bytes AES-KWP`,
          `${ct.length} bytes`);
    const kek = await step(`release ${enc}: RSA-OAEP(${oaepHash}) decrypt`, () => crypto.privateDecrypt(
      { key: transfer.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
      ct.subarray(0, k)));
    equal(kek.length, 32, `release ${enc}: RSA-OAEP(${oaepHash}, MGF1 ${oaepHash}) yields an AES-256 key`);
    // RFC 5649 with OpenSSL's id-aes256-wrap-pad: the IV is the 4-byte AIV constant A65959A6.
    const plain = await step(`release ${enc}: AES-KWP unwrap`, () => {
      const d = crypto.createDecipheriv(`id-aes${kek.length * 8}-wrap-pad`, kek,
        Buffer.from('A65959A6', 'hex'));
      return Buffer.concat([d.update(ct.subarray(k)), d.final()]);
    });
    ok(`release ${enc}: AES-KWP (RFC 5649, id-aes256-wrap-pad) unwrap, ${plain.length} bytes`);
    const released = await step(`release ${enc}: released key is PKCS#8 DER`,
      () => crypto.createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' }));
    const rjwk = released.export({ format: 'jwk' });
    check(rjwk.kty === 'RSA' && rjwk.n === vaultJwk.n && rjwk.e === vaultJwk.e,
          `release ${enc}: PKCS#8 RSA key's n/e = the vault key's public JWK`);
    if (key.n !== undefined || key.e !== undefined) {
      check(key.n === rjwk.n && key.e === rjwk.e, `release ${enc}: n/e in the release payload match`);
    }
    const probe = crypto.randomBytes(32);
    const vaultPub = crypto.createPublicKey({ key: { kty: 'RSA', n: vaultJwk.n, e: vaultJwk.e }, format: 'jwk' });
    const enc1 = crypto.publicEncrypt({ key: vaultPub, oaepHash: 'sha256' }, probe);
    check(crypto.privateDecrypt({ key: released, oaepHash: 'sha256' }, enc1).equals(probe),
          `release ${enc}: released private key decrypts for the vault's public key`);
  }

  // Negative controls: with the emulator's "wrong_key" fault the MAA token and the release JWS are
  // signed by a key nobody trusts; the same jose verification must then reject them, so the checks
  // above are not vacuous.
  const addFault = (listener, p) => adminJson(`admin: wrong_key fault on ${listener}`, 'POST',
    '/_emulator/faults', { listener, method: 'POST', path: p, count: 1, action: 'wrong_key' });
  await addFault('maa', '/attest/SevSnpVm');
  const badAttest = await expectJson('MAA (wrong_key fault): POST /attest/SevSnpVm', await request(
    'POST', `${maa}/attest/SevSnpVm?api-version=2022-08-01`, {
      body: { report: b64url(Buffer.from(JSON.stringify(maaReport), 'utf8')),
        runtimeData: { data: b64url(runtimeData), dataType: 'JSON' } },
    }));
  let maaRejected;
  try {
    await jose.jwtVerify(badAttest.token, resolveMaaKey, { issuer: maa, algorithms: ['RS256'] });
  } catch (e) {
    maaRejected = e.code ?? e.message;  // bad signature, or a kid /certs does not have
  }
  check(maaRejected === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' || /^no key with kid/.test(maaRejected ?? ''),
        `negative: jose rejects an MAA token signed with the wrong key (${maaRejected})`,
        'it verified');
  await addFault('vault', `/keys/${keyName}/release`);
  const badRel = await expectJson('release (wrong_key fault)', await request('POST',
    `${vault}/keys/${keyName}/release?api-version=7.4`, {
      headers: { Authorization: `Bearer ${releaseToken}` },
      body: { target: token, enc: 'RSA_AES_KEY_WRAP_256' },
    }));
  const badKey = await jose.importX509(derToPem(jose.decodeProtectedHeader(badRel.value).x5c[0]), 'RS256');
  let jwsRejected;
  try {
    await jose.compactVerify(badRel.value, badKey, { algorithms: ['RS256'] });
  } catch (e) {
    jwsRejected = e.code ?? e.message;
  }
  equal(jwsRejected, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    'negative: jose rejects a release JWS not signed by its x5c[0]');

  console.log(`verify-emulator: all ${checks} checks passed`);
}

main().catch((e) => {
  if (e instanceof CheckFailure) {
    console.error(`FAIL ${e.message}`);
  } else {
    console.error(`FAIL unexpected error: ${e.stack ?? e}`);
  }
  process.exit(1);
});
