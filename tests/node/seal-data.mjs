#!/usr/bin/env node
// Producing (and reading) skr's encrypted-object envelope outside the TEE with standard
// libraries (docs/encrypted-data.md "Producing encrypted objects"):
//   compact form: the npm `jose` package (CompactEncrypt / compactDecrypt), nothing skr-specific;
//   chunked form: node:crypto only (sealChunked / openChunked below).
// As a program:
//   node seal-data.mjs --to PUBLIC_JWK.json [--kid KID] [--form chunked|compact] [--cs N]
//                      --in FILE --out FILE
//   node seal-data.mjs --open PRIVATE_JWK.json --in FILE --out FILE
// The JWK is an RSA key (alg RSA-OAEP-256) or an oct key with a 32-byte "k" (alg A256KW); the kid
// (the JWK's, or --kid) names the key version that opens the object.
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

import * as jose from 'jose';

export const CHUNKED_CTY = 'application/vnd.skr.chunked.v1+json';
const b64u = (b) => Buffer.from(b).toString('base64url');
const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');  // RFC 3394 default IV

function algOf(jwk) {
  if (jwk.kty === 'RSA') return 'RSA-OAEP-256';
  if (jwk.kty === 'oct' && Buffer.from(jwk.k, 'base64url').length === 32) return 'A256KW';
  throw new Error('the JWK is neither RSA nor a 32-byte oct key');
}

// The compact form: any JOSE library. `jwk` is the recipient's (public) JWK.
export async function sealCompact(plaintext, jwk, kid = jwk.kid) {
  const alg = algOf(jwk);
  const key = await jose.importJWK({ ...jwk, alg }, alg);
  return new jose.CompactEncrypt(plaintext)
      .setProtectedHeader({ alg, enc: 'A256GCM', kid })
      .encrypt(key);
}

// A JWE compact serialization with node:crypto (RFC 7516 §5.1): the chunked form's header line.
function jweWithNodeCrypto(header, plaintext, jwk) {
  const cek = crypto.randomBytes(32);
  const ek = header.alg === 'RSA-OAEP-256'
      ? crypto.publicEncrypt({ key: crypto.createPublicKey({ key: jwk, format: 'jwk' }),
                               padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
                               oaepHash: 'sha256' }, cek)
      : crypto.createCipheriv('id-aes256-wrap', Buffer.from(jwk.k, 'base64url'), KW_IV)
            .update(cek);
  const protectedHeader = b64u(JSON.stringify(header));
  const iv = crypto.randomBytes(12);
  const gcm = crypto.createCipheriv('aes-256-gcm', cek, iv).setAAD(Buffer.from(protectedHeader));
  const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()]);
  return [protectedHeader, b64u(ek), b64u(iv), b64u(ciphertext), b64u(gcm.getAuthTag())].join('.');
}

function chunkNonceAndAad(index, final) {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(index), 4);  // 00 00 00 00 || uint64be(index)
  const aad = Buffer.alloc(14 + 8 + 1);
  aad.write('skr-chunked-v1', 0, 'ascii');
  aad.writeBigUInt64BE(BigInt(index), 14);
  aad[22] = final ? 1 : 0;
  return { iv, aad };
}

// The chunked form with node:crypto only. `readChunk(n)` returns the next at most n plaintext
// bytes (an empty Buffer at the end); `write(buf)` receives the object in order. Memory: two chunks.
export function sealChunked(readChunk, write, jwk, { kid = jwk.kid, cs = 1048576 } = {}) {
  const dek = crypto.randomBytes(32);
  const header = { alg: algOf(jwk), cty: CHUNKED_CTY, enc: 'A256GCM', kid };
  const params = JSON.stringify({ v: 1, cs, dek: b64u(dek) });
  write(Buffer.from(jweWithNodeCrypto(header, Buffer.from(params), jwk) + '\n'));
  let index = 0;
  let current = readChunk(cs);
  for (;;) {
    const next = current.length === cs ? readChunk(cs) : Buffer.alloc(0);
    const final = next.length === 0;  // every chunk but the last holds exactly cs bytes
    const { iv, aad } = chunkNonceAndAad(index, final);
    const gcm = crypto.createCipheriv('aes-256-gcm', dek, iv).setAAD(aad);
    write(Buffer.concat([gcm.update(current), gcm.final(), gcm.getAuthTag()]));
    if (final) return;
    current = next;
    index += 1;
  }
}

// Reads the chunked form (a Buffer) with node:crypto and a private JWK; throws on any tampering.
export function openChunked(object, jwk) {
  const lf = object.indexOf(0x0a);
  if (lf < 0 || lf >= 16384) throw new Error('no header line');
  const [h, ek, iv, ct, tag] = object.subarray(0, lf).toString('ascii').split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  if (header.cty !== CHUNKED_CTY || header.enc !== 'A256GCM') throw new Error('not chunked');
  const cek = header.alg === 'RSA-OAEP-256'
      ? crypto.privateDecrypt({ key: crypto.createPrivateKey({ key: jwk, format: 'jwk' }),
                                padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
                                oaepHash: 'sha256' }, Buffer.from(ek, 'base64url'))
      : crypto.createDecipheriv('id-aes256-wrap', Buffer.from(jwk.k, 'base64url'), KW_IV)
            .update(Buffer.from(ek, 'base64url'));
  const hd = crypto.createDecipheriv('aes-256-gcm', cek, Buffer.from(iv, 'base64url'))
      .setAAD(Buffer.from(h)).setAuthTag(Buffer.from(tag, 'base64url'));
  const params = JSON.parse(Buffer.concat([hd.update(Buffer.from(ct, 'base64url')), hd.final()]));
  const dek = Buffer.from(params.dek, 'base64url');
  const record = params.cs + 16;
  const body = object.subarray(lf + 1);
  const chunks = Math.max(1, Math.ceil(body.length / record));
  const out = [];
  for (let i = 0; i < chunks; i += 1) {
    const chunk = body.subarray(i * record, (i + 1) * record);
    if (chunk.length < 16) throw new Error(`chunk ${i} is truncated`);
    const { iv: nonce, aad } = chunkNonceAndAad(i, i === chunks - 1);
    const d = crypto.createDecipheriv('aes-256-gcm', dek, nonce).setAAD(aad)
        .setAuthTag(chunk.subarray(chunk.length - 16));
    out.push(d.update(chunk.subarray(0, chunk.length - 16)), d.final());
  }
  return { plaintext: Buffer.concat(out), kid: header.kid };
}

export async function openCompact(text, jwk) {
  const key = await jose.importJWK({ ...jwk, alg: algOf(jwk) }, algOf(jwk));
  const { plaintext, protectedHeader } = await jose.compactDecrypt(text.trim(), key);
  return { plaintext: Buffer.from(plaintext), kid: protectedHeader.kid };
}

async function main(argv) {
  const arg = (name) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (arg('open')) {
    const jwk = JSON.parse(fs.readFileSync(arg('open'), 'utf8'));
    const object = fs.readFileSync(arg('in'));
    const lf = object.indexOf(0x0a);
    const chunked = lf >= 0 && lf < object.length - 1;
    const { plaintext } = chunked ? openChunked(object, jwk)
                                  : await openCompact(object.toString('ascii'), jwk);
    fs.writeFileSync(arg('out'), plaintext);
    return;
  }
  const jwk = JSON.parse(fs.readFileSync(arg('to'), 'utf8'));
  const kid = arg('kid') ?? jwk.kid;
  if (!kid) throw new Error('no kid: give --kid https://{vault}/keys/{name}/{version}');
  if ((arg('form') ?? 'chunked') === 'compact') {
    fs.writeFileSync(arg('out'), await sealCompact(fs.readFileSync(arg('in')), jwk, kid));
    return;
  }
  const input = fs.openSync(arg('in'), 'r');
  const output = fs.openSync(arg('out'), 'w');
  const readChunk = (n) => {
    const buf = Buffer.alloc(n);
    let got = 0;
    for (let r; got < n && (r = fs.readSync(input, buf, got, n - got, null)) > 0;) got += r;
    return buf.subarray(0, got);
  };
  sealChunked(readChunk, (b) => fs.writeSync(output, b), jwk,
              { kid, cs: Number(arg('cs') ?? 1048576) });
  fs.closeSync(output);
  fs.closeSync(input);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`seal-data.mjs: ${e.message}`);
    process.exit(1);
  });
}
