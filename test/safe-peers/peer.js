#!/usr/bin/env node
// Independent Safe hashing/signing peers for airlock's Go tests.
//
//   node peer.js < request.json > response.json
//
// Reads ONE JSON request on stdin and writes ONE JSON response on stdout. Exits
// non-zero (message on stderr) only when the request itself is unusable; a
// library that cannot compute one value puts {"error": "..."} in that slot.
//
// Request:  {"cases":[{"version","chainId","safe","tx":{to,value,data,operation,safeTxGas,
//            baseGas,gasPrice,gasToken,refundReceiver,nonce},"privateKey"?,"message"?}]}
// Response: {"results":[{"ethers":{domainHash,safeTxHash,signature?,signer?},
//            "viem":{domainHash,safeTxHash,signature?},
//            "protocolKit":{safeTxHash},
//            "messageHash"?:{eip191Hash,ethers,protocolKit,viem,signature?,note?}}],
//            "libraries":{name: version}}
//
// See README.md for exactly which function of each library is used.
'use strict';

const fs = require('fs');
const path = require('path');
const ethers = require('ethers');
const viem = require('viem');
const viemAccounts = require('viem/accounts');
const protocolKit = require('@safe-global/protocol-kit');

const SAFE_TX_FIELDS = [
  { name: 'to', type: 'address' },
  { name: 'value', type: 'uint256' },
  { name: 'data', type: 'bytes' },
  { name: 'operation', type: 'uint8' },
  { name: 'safeTxGas', type: 'uint256' },
  { name: 'baseGas', type: 'uint256' },
  { name: 'gasPrice', type: 'uint256' },
  { name: 'gasToken', type: 'address' },
  { name: 'refundReceiver', type: 'address' },
  { name: 'nonce', type: 'uint256' },
];
const SAFE_MESSAGE_FIELDS = [{ name: 'message', type: 'bytes' }];
const UINT_FIELDS = ['value', 'safeTxGas', 'baseGas', 'gasPrice', 'nonce'];
const ZERO = '0x0000000000000000000000000000000000000000';

function pkgVersion(name) {
  const file = require.resolve(`${name}/package.json`, { paths: [__dirname] });
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

function libraries() {
  const out = {};
  for (const n of ['ethers', 'viem', '@safe-global/protocol-kit']) {
    try {
      out[n] = pkgVersion(n);
    } catch (_) {
      // viem and ethers do not export package.json in every version; fall back to the file
      out[n] = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', n, 'package.json'), 'utf8')).version;
    }
  }
  return out;
}

// "1.2.0" < "1.3.0": pre-1.3.0 Safes use EIP712Domain(address verifyingContract).
function cmpVersion(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

function errorSlot(e) {
  const msg = e && (e.shortMessage || e.message) ? e.shortMessage || e.message : String(e);
  return { error: msg.split('\n')[0] };
}

function attempt(fn) {
  try {
    return fn();
  } catch (e) {
    return errorSlot(e);
  }
}

function normalizeCase(c, i) {
  const where = `cases[${i}]`;
  if (!c || typeof c !== 'object') throw new Error(`${where}: not an object`);
  if (typeof c.version !== 'string' || !/^\d+\.\d+\.\d+$/.test(c.version)) throw new Error(`${where}.version: want "X.Y.Z"`);
  if (c.chainId === undefined) throw new Error(`${where}.chainId: missing`);
  const chainId = BigInt(c.chainId);
  if (typeof c.safe !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(c.safe)) throw new Error(`${where}.safe: want 0x + 40 hex`);
  const t = c.tx || {};
  if (typeof t.to !== 'string') throw new Error(`${where}.tx.to: missing`);
  const tx = {
    to: t.to,
    value: BigInt(t.value ?? 0),
    data: t.data === undefined || t.data === null || t.data === '' ? '0x' : t.data,
    operation: Number(t.operation ?? 0),
    safeTxGas: BigInt(t.safeTxGas ?? 0),
    baseGas: BigInt(t.baseGas ?? 0),
    gasPrice: BigInt(t.gasPrice ?? 0),
    gasToken: t.gasToken || ZERO,
    refundReceiver: t.refundReceiver || ZERO,
    nonce: BigInt(t.nonce ?? 0),
  };
  if (!/^0x([0-9a-fA-F]{2})*$/.test(tx.data)) throw new Error(`${where}.tx.data: want 0x-prefixed even-length hex`);
  if (c.privateKey !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(c.privateKey)) throw new Error(`${where}.privateKey: want 0x + 64 hex`);
  if (c.message !== undefined && typeof c.message !== 'string') throw new Error(`${where}.message: want a string`);
  return { version: c.version, chainId, safe: c.safe, tx, privateKey: c.privateKey, message: c.message };
}

function domainOf(c) {
  return cmpVersion(c.version, '1.3.0') >= 0
    ? { chainId: c.chainId, verifyingContract: c.safe }
    : { verifyingContract: c.safe };
}

// ---- ethers v6 ----------------------------------------------------------------
function ethersPeer(c) {
  const out = {};
  const domain = domainOf(c);
  out.domainHash = attempt(() => ethers.TypedDataEncoder.hashDomain(domain));
  const h = attempt(() => ethers.TypedDataEncoder.hash(domain, { SafeTx: SAFE_TX_FIELDS }, c.tx));
  out.safeTxHash = h;
  if (c.privateKey) {
    if (typeof h === 'string') {
      Object.assign(out, attempt(() => {
        const key = new ethers.SigningKey(c.privateKey);
        return { signature: key.sign(h).serialized, signer: ethers.computeAddress(key.publicKey) };
      }));
    } else {
      out.signature = { error: 'no safeTxHash to sign' };
    }
  }
  return out;
}

// ---- viem 2.x -----------------------------------------------------------------
async function viemPeer(c) {
  const out = {};
  const domain = domainOf(c);
  out.domainHash = attempt(() =>
    viem.hashDomain({ domain, types: { EIP712Domain: viem.getTypesForEIP712Domain({ domain }) } }),
  );
  const h = attempt(() =>
    viem.hashTypedData({ domain, types: { SafeTx: SAFE_TX_FIELDS }, primaryType: 'SafeTx', message: c.tx }),
  );
  out.safeTxHash = h;
  if (c.privateKey) {
    if (typeof h === 'string') {
      try {
        out.signature = await viemAccounts.sign({ hash: h, privateKey: c.privateKey, to: 'hex' });
      } catch (e) {
        out.signature = errorSlot(e);
      }
    } else {
      out.signature = { error: 'no safeTxHash to sign' };
    }
  }
  return out;
}

// ---- @safe-global/protocol-kit -----------------------------------------------
// calculateSafeTransactionHash(safeAddress, safeTx: SafeTransactionData, safeVersion, chainId: bigint)
// from the package root (src/utils/signatures/utils.ts): pure, no provider.
// SafeTransactionData carries the uints as decimal strings and nonce as a number.
function protocolKitTx(tx) {
  const o = { ...tx };
  for (const f of UINT_FIELDS) o[f] = tx[f].toString();
  o.nonce = tx.nonce <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(tx.nonce) : tx.nonce;
  return o;
}

function protocolKitPeer(c) {
  return {
    safeTxHash: attempt(() => protocolKit.calculateSafeTransactionHash(c.safe, protocolKitTx(c.tx), c.version, c.chainId)),
  };
}

// ---- Safe message hash ----------------------------------------------------------
// SafeMessage(bytes message) where message = EIP-191 hashMessage(string) (32 bytes).
function messagePeers(c) {
  const out = {};
  const eip191 = attempt(() => ethers.hashMessage(c.message));
  out.eip191Hash = eip191;
  const ok = typeof eip191 === 'string';
  const domain = domainOf(c);
  // ethers, independent, with the version's own domain (what Safe.getMessageHash /
  // CompatibilityFallbackHandler.getMessageHashForSafe compute on-chain).
  out.ethers = ok
    ? attempt(() => ethers.TypedDataEncoder.hash(domain, { SafeMessage: SAFE_MESSAGE_FIELDS }, { message: eip191 }))
    : { error: 'no EIP-191 hash' };
  // viem, independent, same domain.
  out.viem = ok
    ? attempt(() =>
        viem.hashTypedData({ domain, types: { SafeMessage: SAFE_MESSAGE_FIELDS }, primaryType: 'SafeMessage', message: { message: eip191 } }),
      )
    : { error: 'no EIP-191 hash' };
  // protocol-kit exactly: calculateSafeMessageHash(safe, hashSafeMessage(message), version, chainId).
  out.protocolKit = attempt(() =>
    protocolKit.calculateSafeMessageHash(c.safe, protocolKit.hashSafeMessage(c.message), c.version, c.chainId),
  );
  if (cmpVersion(c.version, '1.3.0') < 0) {
    out.note =
      'protocol-kit calculateSafeMessageHash always puts chainId in the EIP-712 domain; Safe < 1.3.0 contracts use EIP712Domain(address verifyingContract), so protocolKit differs from ethers/viem (the on-chain value) here';
  }
  if (c.privateKey && typeof out.ethers === 'string') {
    out.signature = attempt(() => new ethers.SigningKey(c.privateKey).sign(out.ethers).serialized);
  }
  return out;
}

async function runCase(raw, i) {
  const c = normalizeCase(raw, i);
  const r = {
    ethers: ethersPeer(c),
    viem: await viemPeer(c),
    protocolKit: protocolKitPeer(c),
  };
  if (c.message !== undefined) r.messageHash = messagePeers(c);
  return r;
}

async function main() {
  const input = fs.readFileSync(0, 'utf8');
  let req;
  try {
    req = JSON.parse(input);
  } catch (e) {
    throw new Error(`stdin is not JSON: ${e.message}`);
  }
  if (!req || !Array.isArray(req.cases)) throw new Error('request must be {"cases": [...]}');
  const results = [];
  for (let i = 0; i < req.cases.length; i++) results.push(await runCase(req.cases[i], i));
  process.stdout.write(JSON.stringify({ results, libraries: libraries() }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`peer.js: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
