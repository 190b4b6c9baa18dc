#!/usr/bin/env node
// Independent check of the encrypted-object envelope (docs/encrypted-data.md) against skrctl:
//   Node produces (seal-data.mjs: npm jose for the compact form, node:crypto for the chunked one)
//   and `skrctl open-data --key-file` opens; `skrctl seal-data` produces and Node opens (jose's
//   compactDecrypt, seal-data.mjs's openChunked). RSA-OAEP-256 and A256KW, several sizes around
//   the chunk size; a flipped byte is refused by both readers.
// Usage: node data-check.mjs --skrctl PATH. Prints one line per check; exits 1 on a failure.
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { openChunked, openCompact, sealChunked, sealCompact } from './seal-data.mjs';

const argv = process.argv.slice(2);
const skrctl = argv[argv.indexOf('--skrctl') + 1];
if (!skrctl || !fs.existsSync(skrctl)) {
  console.error('usage: node data-check.mjs --skrctl PATH');
  process.exit(2);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'skr-data-check-'));
let checks = 0;
function ok(what) {
  checks += 1;
  console.log(`ok   ${what}`);
}
function check(cond, what, detail = '') {
  if (!cond) throw new Error(`FAIL ${what}${detail ? `: ${detail}` : ''}`);
  ok(what);
}
function skrctlRun(args, input) {
  return spawnSync(skrctl, args, { input, maxBuffer: 64 << 20 });
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPrivate = { ...privateKey.export({ format: 'jwk' }),
                     kid: 'https://vault.example/keys/data-rsa/1f2e3d4c' };
const { d, p, q, dp, dq, qi, ...rsaPublic } = rsaPrivate;
const octKey = { kty: 'oct', k: crypto.randomBytes(32).toString('base64url'),
                 kid: 'https://vault.example/keys/data-oct/5a6b7c8d' };
const keys = { 'RSA-OAEP-256': { pub: rsaPublic, priv: rsaPrivate }, A256KW: { pub: octKey, priv: octKey } };
for (const [alg, k] of Object.entries(keys)) {
  fs.writeFileSync(path.join(work, `${alg}.pub.json`), JSON.stringify(k.pub));
  fs.writeFileSync(path.join(work, `${alg}.priv.json`), JSON.stringify(k.priv), { mode: 0o600 });
}

const cs = 4096;
const sizes = [0, 1, cs - 1, cs, cs + 1, 3 * cs + 7];
try {
  for (const [alg, k] of Object.entries(keys)) {
    const pubFile = path.join(work, `${alg}.pub.json`);
    const privFile = path.join(work, `${alg}.priv.json`);
    for (const n of sizes) {
      const plaintext = crypto.randomBytes(n);
      const plainFile = path.join(work, 'plain.bin');
      fs.writeFileSync(plainFile, plaintext);

      // Node seals, skrctl opens.
      const compact = await sealCompact(plaintext, k.pub);
      let r = skrctlRun(['open-data', '--key-file', privFile], compact);
      check(r.status === 0 && Buffer.compare(r.stdout, plaintext) === 0,
            `${alg} compact ${n} bytes: jose CompactEncrypt -> skrctl open-data`, r.stderr.toString());
      const parts = [];
      let at = 0;
      sealChunked((m) => { const b = plaintext.subarray(at, at + m); at += b.length; return b; },
                  (b) => parts.push(Buffer.from(b)), k.pub, { cs });
      const chunked = Buffer.concat(parts);
      r = skrctlRun(['open-data', '--key-file', privFile], chunked);
      check(r.status === 0 && Buffer.compare(r.stdout, plaintext) === 0,
            `${alg} chunked ${n} bytes: node:crypto sealChunked -> skrctl open-data`, r.stderr.toString());

      // skrctl seals, Node opens.
      const outFile = path.join(work, 'sealed');
      r = skrctlRun(['seal-data', '--to', pubFile, '--form', 'compact', '--in', plainFile,
                     '--out', outFile]);
      check(r.status === 0, `${alg} ${n} bytes: skrctl seal-data --form compact`, r.stderr.toString());
      const opened = await openCompact(fs.readFileSync(outFile, 'ascii'), k.priv);
      check(Buffer.compare(opened.plaintext, plaintext) === 0 && opened.kid === k.pub.kid,
            `${alg} compact ${n} bytes: skrctl seal-data -> jose compactDecrypt`);
      r = skrctlRun(['seal-data', '--to', pubFile, '--chunk-size', String(cs), '--in', plainFile,
                     '--out', outFile]);
      check(r.status === 0, `${alg} ${n} bytes: skrctl seal-data (chunked)`, r.stderr.toString());
      const sealed = fs.readFileSync(outFile);
      const back = openChunked(sealed, k.priv);
      check(Buffer.compare(back.plaintext, plaintext) === 0 && back.kid === k.pub.kid,
            `${alg} chunked ${n} bytes: skrctl seal-data -> node:crypto openChunked`);
      const expectedChunks = n === 0 ? 1 : Math.ceil(n / cs);
      check(sealed.length - sealed.indexOf(0x0a) - 1 === n + 16 * expectedChunks,
            `${alg} chunked ${n} bytes: ${expectedChunks} chunk(s) of ciphertext + 16-byte tag`);

      if (n > cs) {
        const bad = Buffer.from(sealed);
        bad[bad.length - 20] ^= 1;
        let threw = false;
        try { openChunked(bad, k.priv); } catch { threw = true; }
        check(threw, `${alg} chunked ${n} bytes: the Node reader refuses a flipped byte`);
        fs.writeFileSync(outFile, bad);
        r = skrctlRun(['open-data', '--key-file', privFile, '--in', outFile, '--out',
                       path.join(work, 'never')]);
        check(r.status === 9 && !fs.existsSync(path.join(work, 'never')),
              `${alg} chunked ${n} bytes: skrctl refuses it with exit 9 and writes no --out`);
      }
    }
  }
  // seal-data.mjs as a program (the lines docs/encrypted-data.md shows), opened by skrctl.
  const big = crypto.randomBytes(3 * 1048576 + 5);
  const bigFile = path.join(work, 'model.bin');
  fs.writeFileSync(bigFile, big);
  for (const form of ['chunked', 'compact']) {
    const sealedFile = path.join(work, `model.${form}.skr`);
    const n = spawnSync(process.execPath,
                        [new URL('./seal-data.mjs', import.meta.url).pathname, '--to',
                         path.join(work, 'RSA-OAEP-256.pub.json'), '--form', form, '--in', bigFile,
                         '--out', sealedFile]);
    check(n.status === 0, `node seal-data.mjs --form ${form} (3 MiB)`, n.stderr.toString());
    const r = skrctlRun(['open-data', '--key-file', path.join(work, 'RSA-OAEP-256.priv.json'),
                         '--in', sealedFile, '--out', path.join(work, 'model.out')]);
    check(r.status === 0 && Buffer.compare(fs.readFileSync(path.join(work, 'model.out')), big) === 0,
          `node seal-data.mjs --form ${form} -> skrctl open-data --out`, r.stderr.toString());
  }
  // A key file whose kid is another version is not used (exit 7, key not found).
  const other = { ...octKey, kid: 'https://vault.example/keys/data-oct/99999999' };
  fs.writeFileSync(path.join(work, 'other.json'), JSON.stringify(other), { mode: 0o600 });
  const r = skrctlRun(['open-data', '--key-file', path.join(work, 'other.json')],
                      await sealCompact(Buffer.from('x'), octKey));
  check(r.status === 7, 'an envelope for another key version: skrctl exit 7', `exit ${r.status}`);
  console.log(`data-check: ${checks} checks passed`);
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
