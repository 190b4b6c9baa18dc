#!/usr/bin/env node
// Envelope encryption through skr-agent, Node.js standard library only (node:http, node:crypto).
//
// Run:  SKR_AGENT_SOCKET=/path/agent.sock [SKR_AGENT_TOKEN=...] [SKR_KEY=app-kek] \
//         [SKR_READY_TIMEOUT=30] \
//         node skr_client.js seal FILE TEXT | open FILE | rewrap FILE
// seal: a fresh 32-byte DEK, wrapped under the key by the agent (A256KW); TEXT encrypted locally
//       with AES-256-GCM under the DEK; FILE keeps the wrapped DEK, its kid, iv, tag, ciphertext.
// open: unwraps the DEK by the stored kid (versioned path), decrypts, prints the plaintext.
// rewrap: after a rotation, moves the wrapped DEK to the primary version and stores the new kid.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');

const SOCKET = process.env.SKR_AGENT_SOCKET;
const TOKEN = process.env.SKR_AGENT_TOKEN;
const KEY = process.env.SKR_KEY || 'app-kek';
const READY_TIMEOUT_MS = 1000 * Number(process.env.SKR_READY_TIMEOUT || 30);
const ALG = 'A256KW'; // RSA-OAEP-256 for an RSA key

class AgentError extends Error {
  constructor(status, code, message) {
    super(`skr-agent: HTTP ${status} ${code}: ${message}`);
    Object.assign(this, { status, code });
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function send(method, path, body) {
  const headers = { 'X-SKR-Request': '1', 'Content-Type': 'application/json' };
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  return new Promise((resolve, reject) => {
    const options = { socketPath: SOCKET, method, path, headers, timeout: 30000 };
    const req = http.request(options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'],
                                    text: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

// One request; 429/503 are retried after Retry-After (bounded), other errors throw AgentError.
async function call(method, path, body, attempts = 5) {
  for (let attempt = 1; ; attempt++) {
    const res = await send(method, path, body);
    if (res.status < 300) return JSON.parse(res.text);
    if (![429, 503].includes(res.status) || attempt === attempts) {
      let error = {};
      try { error = JSON.parse(res.text).error || {}; } catch { /* not JSON */ }
      throw new AgentError(res.status, error.code || '?', error.message || res.text.slice(0, 200));
    }
    const seconds = Number(res.retryAfter) || 0.2 * 2 ** attempt;
    await sleep(Math.min(seconds, 10) * 1000);
  }
}

// GET /readyz with exponential backoff (0.1 s doubling, at most 2 s) for at most budgetMs.
async function waitReady(budgetMs = READY_TIMEOUT_MS) {
  const deadline = Date.now() + budgetMs;
  let delay = 100, last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await send('GET', '/readyz');
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${res.text.slice(0, 120)}`;
    } catch (e) { last = e.message; } // socket not there yet, or the agent restarting
    await sleep(delay);
    delay = Math.min(delay * 2, 2000);
  }
  throw new Error(`skr-agent at ${SOCKET} not ready after ${budgetMs / 1000} s: ${last}`);
}

const version = (kid) => kid.split('/').pop();

async function main([cmd, file, text]) {
  await waitReady();
  if (cmd === 'seal') {
    const dek = crypto.randomBytes(32);
    const wrapped = await call('POST', `/keys/${KEY}/wrapkey`,
                               { alg: ALG, value: dek.toString('base64url') });
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', dek, iv);
    const ciphertext = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    dek.fill(0);
    fs.writeFileSync(file, JSON.stringify({
      kid: wrapped.kid, alg: ALG, wrapped_dek: wrapped.value, iv: iv.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'), ciphertext: ciphertext.toString('base64url'),
    }));
    console.log(`sealed under ${wrapped.kid}`);
    return;
  }
  const env = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (cmd === 'open') { // at start-up: the stored kid names the version that wrapped the DEK
    const unwrapped = await call('POST', `/keys/${KEY}/${version(env.kid)}/unwrapkey`,
                                 { alg: env.alg, value: env.wrapped_dek });
    const dek = Buffer.from(unwrapped.value, 'base64url');
    const decipher = crypto.createDecipheriv('aes-256-gcm', dek, Buffer.from(env.iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(env.tag, 'base64url'));
    const ciphertext = Buffer.from(env.ciphertext, 'base64url');
    const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    dek.fill(0);
    console.log(`plaintext: ${plain.toString('utf8')}`);
  } else if (cmd === 'rewrap') {
    const moved = await call('POST', `/keys/${KEY}/rewrap`,
                             { kid: env.kid, alg: env.alg, value: env.wrapped_dek });
    console.log(`rewrapped: ${env.kid} -> ${moved.kid}`);
    fs.writeFileSync(file, JSON.stringify({ ...env, kid: moved.kid, wrapped_dek: moved.value }));
  }
}

const args = process.argv.slice(2);
const arity = { seal: 3, open: 2, rewrap: 2 }[args[0]];
if (!SOCKET || args.length !== arity) {
  console.error('usage: SKR_AGENT_SOCKET=PATH node skr_client.js seal FILE TEXT | open FILE | rewrap FILE');
  process.exit(2);
}
main(args).catch((e) => { console.error(e.message); process.exit(1); });
