#!/usr/bin/env node
// Independent Bitcoin peers for airlock's Go tests: descriptor addresses
// (@bitcoinerlab/descriptors), PSBT creation, signing and finalization
// (bitcoinjs-lib with bip32, and @scure/btc-signer with @scure/bip32).
//
//   node peer.js < request.json > response.json
//
// Reads ONE JSON request on stdin and writes ONE JSON response on stdout:
//
//   {"ops":[{"op":"derive",...},{"op":"sign",...},...]}
//   -> {"results":[{...},{...},...], "libraries":{name: version}}
//
// Results are in the order of the ops. An op that fails gives
// {"error":"..."} in its slot; the process exits non-zero (message on stderr)
// only when the request itself is unusable (not JSON, no "ops" array).
// See README.md for the operations and exactly which functions they call.
'use strict';

const fs = require('fs');
const path = require('path');

const LIBS = [
  'bitcoinjs-lib',
  'bip32',
  'ecpair',
  '@bitcoinerlab/secp256k1',
  '@bitcoinerlab/descriptors',
  '@bitcoinerlab/descriptors-core',
  '@scure/btc-signer',
  '@scure/bip32',
];

function libraries() {
  const out = {};
  for (const n of LIBS) {
    out[n] = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', n, 'package.json'), 'utf8')).version;
  }
  return out;
}

// BIP-32 version bytes of tprv/tpub (testnet, signet and regtest alike).
const TEST_VERSIONS = { private: 0x04358394, public: 0x043587cf };

function hexToBytes(h) {
  if (typeof h !== 'string' || h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) {
    throw new Error(`not hex: ${String(h).slice(0, 40)}`);
  }
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

function bytesToHex(b) {
  return Buffer.from(b).toString('hex');
}

function b64ToBytes(s) {
  return Uint8Array.from(Buffer.from(s, 'base64'));
}

function bytesToB64(b) {
  return Buffer.from(b).toString('base64');
}

// "m/48'/1'/0'/2'/0/5" -> [0x80000030, 0x80000001, 0x80000000, 0x80000002, 0, 5]
function parsePath(p) {
  const parts = p.split('/');
  if (parts[0] !== 'm') throw new Error(`path ${p} does not start with m`);
  return parts.slice(1).map((s) => {
    const hard = /['hH]$/.test(s);
    const n = Number(hard ? s.slice(0, -1) : s);
    if (!Number.isInteger(n) || n < 0 || n >= 0x80000000) throw new Error(`bad path step ${s} in ${p}`);
    return hard ? n + 0x80000000 : n;
  });
}

function containsBytes(hay, needle) {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
}

async function loadLibs() {
  // @bitcoinerlab/secp256k1 v2, @scure/* and @noble/* are ES modules.
  const eccMod = await import('@bitcoinerlab/secp256k1');
  const ecc = eccMod.default && eccMod.default.sign ? eccMod.default : eccMod;
  const bitcoinjs = require('bitcoinjs-lib');
  const { BIP32Factory } = require('bip32');
  const { ECPairFactory } = require('ecpair');
  const descriptors = require('@bitcoinerlab/descriptors');
  const btc = await import('@scure/btc-signer');
  const { HDKey } = await import('@scure/bip32');
  bitcoinjs.initEccLib(ecc);
  return {
    ecc,
    bitcoinjs,
    bip32: BIP32Factory(ecc),
    ecpair: ECPairFactory(ecc),
    descriptors,
    btc,
    HDKey,
  };
}

function bjsNetwork(L, name) {
  const n = L.bitcoinjs.networks;
  switch (name) {
    case 'mainnet':
    case 'bitcoin':
      return n.bitcoin;
    case 'testnet':
    case 'testnet3':
    case 'testnet4':
    case 'signet':
      return n.testnet;
    case 'regtest':
      return n.regtest;
  }
  throw new Error(`unknown network ${name}`);
}

// scure's network objects: bech32 HRP and base58 prefixes.
function scureNetwork(L, name) {
  switch (name) {
    case 'mainnet':
    case 'bitcoin':
      return L.btc.NETWORK;
    case 'testnet':
    case 'testnet3':
    case 'testnet4':
    case 'signet':
      return L.btc.TEST_NETWORK;
    case 'regtest':
      return { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
  }
  throw new Error(`unknown network ${name}`);
}

// derive: addresses of a descriptor by @bitcoinerlab/descriptors' Output.
// The multipath <0;1> is resolved by the library itself ("change": 0 or 1).
function opDerive(L, req) {
  const network = bjsNetwork(L, req.network || 'regtest');
  const change = req.change ? 1 : 0;
  const addresses = (req.indexes || []).map((index) => {
    const out = new L.descriptors.Output({ descriptor: req.descriptor, index, change, network, checksumRequired: true });
    return out.getAddress();
  });
  return { addresses };
}

// multisig: addresses of a k-of-n sortedmulti vault from bare xpubs, with
// no descriptor: bip32 derives each key at change/index, the keys are
// sorted (BIP-67), and bitcoinjs-lib's payments build p2ms inside p2wsh,
// p2sh(p2wsh) or p2sh.
function opMultisig(L, req) {
  const network = bjsNetwork(L, req.network || 'regtest');
  const change = req.change ? 1 : 0;
  const nodes = (req.xpubs || []).map((x) => L.bip32.fromBase58(x, network));
  const p = L.bitcoinjs.payments;
  const addresses = (req.indexes || []).map((index) => {
    const pubkeys = nodes.map((n) => Buffer.from(n.derive(change).derive(index).publicKey)).sort(Buffer.compare);
    const ms = p.p2ms({ m: req.threshold, pubkeys, network });
    switch (req.script || 'p2wsh') {
      case 'p2wsh':
        return p.p2wsh({ redeem: ms, network }).address;
      case 'p2sh-p2wsh':
        return p.p2sh({ redeem: p.p2wsh({ redeem: ms, network }), network }).address;
      case 'p2sh':
        return p.p2sh({ redeem: ms, network }).address;
    }
    throw new Error(`multisig: unknown script ${req.script}`);
  });
  return { addresses };
}

// sign with bitcoinjs-lib: Psbt.fromBase64 + signInput with each bip32-derived
// node whose public key the input's witness script (or bip32 derivations) names.
function signBitcoinjs(L, req) {
  const network = bjsNetwork(L, req.network || 'regtest');
  const psbt = L.bitcoinjs.Psbt.fromBase64(req.psbt, { network });
  const master = L.bip32.fromBase58(req.xprv, network);
  const nodes = (req.paths || []).map((p) => master.derivePath(p));
  let signed = 0;
  psbt.data.inputs.forEach((input, i) => {
    for (const node of nodes) {
      const pub = node.publicKey;
      const named =
        (input.witnessScript && containsBytes(input.witnessScript, pub)) ||
        (input.redeemScript && containsBytes(input.redeemScript, pub)) ||
        (input.bip32Derivation || []).some((d) => Buffer.from(d.pubkey).equals(Buffer.from(pub)));
      if (!named) continue;
      psbt.signInput(i, node);
      if (!psbt.validateSignaturesOfInput(i, (pk, msghash, sig) => L.ecc.verify(msghash, pk, sig), pub)) {
        throw new Error(`bitcoinjs: own signature on input ${i} does not validate`);
      }
      signed++;
    }
  });
  return { psbt: psbt.toBase64(), signed };
}

// sign with @scure/btc-signer: Transaction.fromPSBT + signIdx with each
// @scure/bip32-derived private key the input's script names. The PSBT is
// written back in the version it came in (0 or 2).
function signScure(L, req) {
  const raw = b64ToBytes(req.psbt);
  const tx = L.btc.Transaction.fromPSBT(raw);
  const version = tx.global.version || 0;
  const master = L.HDKey.fromExtendedKey(req.xprv, TEST_VERSIONS);
  const keys = (req.paths || []).map((p) => master.derive(p));
  let signed = 0;
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    for (const k of keys) {
      const named =
        (input.witnessScript && containsBytes(input.witnessScript, k.publicKey)) ||
        (input.redeemScript && containsBytes(input.redeemScript, k.publicKey));
      if (!named) continue;
      if (tx.signIdx(k.privateKey, i)) signed++;
    }
  }
  return { psbt: bytesToB64(tx.toPSBT(version)), signed, version };
}

function opSign(L, req) {
  if (req.lib === 'bitcoinjs') return signBitcoinjs(L, req);
  if (req.lib === 'scure') return signScure(L, req);
  throw new Error(`sign: unknown lib ${req.lib}`);
}

// create with bitcoinjs-lib: new Psbt + addInput/addOutput (version 0 only).
function createBitcoinjs(L, req) {
  if (req.version && req.version !== 0) throw new Error('bitcoinjs-lib writes only version 0 PSBTs');
  const network = bjsNetwork(L, req.network || 'regtest');
  const psbt = new L.bitcoinjs.Psbt({ network });
  for (const inp of req.inputs) {
    const prev = L.bitcoinjs.Transaction.fromHex(inp.txHex);
    const out = prev.outs[inp.vout];
    if (!out) throw new Error(`previous tx has no output ${inp.vout}`);
    psbt.addInput({
      hash: prev.getId(),
      index: inp.vout,
      nonWitnessUtxo: hexToBytes(inp.txHex),
      witnessUtxo: { script: out.script, value: out.value },
      witnessScript: hexToBytes(inp.witnessScript),
      bip32Derivation: (inp.bip32Derivation || []).map((d) => ({
        masterFingerprint: hexToBytes(d.masterFingerprint),
        path: d.path,
        pubkey: hexToBytes(d.pubkey),
      })),
    });
  }
  for (const o of req.outputs) {
    psbt.addOutput({ address: o.address, value: BigInt(o.value) });
  }
  return { psbt: psbt.toBase64() };
}

// create with @scure/btc-signer: new Transaction + addInput/addOutputAddress,
// toPSBT(version) for version 0 or 2.
function createScure(L, req) {
  const version = req.version || 0;
  const network = scureNetwork(L, req.network || 'regtest');
  const tx = new L.btc.Transaction({ PSBTVersion: version });
  for (const inp of req.inputs) {
    const prev = L.btc.Transaction.fromRaw(hexToBytes(inp.txHex), { allowUnknownOutputs: true });
    const out = prev.getOutput(inp.vout);
    if (!out || !out.script) throw new Error(`previous tx has no output ${inp.vout}`);
    tx.addInput({
      txid: prev.id,
      index: inp.vout,
      nonWitnessUtxo: hexToBytes(inp.txHex),
      witnessUtxo: { script: out.script, amount: out.amount },
      witnessScript: hexToBytes(inp.witnessScript),
      bip32Derivation: (inp.bip32Derivation || []).map((d) => [
        hexToBytes(d.pubkey),
        { fingerprint: Buffer.from(hexToBytes(d.masterFingerprint)).readUInt32BE(0), path: parsePath(d.path) },
      ]),
    });
  }
  for (const o of req.outputs) {
    tx.addOutputAddress(o.address, BigInt(o.value), network);
  }
  return { psbt: bytesToB64(tx.toPSBT(version)), version };
}

function opCreate(L, req) {
  if (req.lib === 'bitcoinjs') return createBitcoinjs(L, req);
  if (req.lib === 'scure') return createScure(L, req);
  throw new Error(`create: unknown lib ${req.lib}`);
}

// finalize with bitcoinjs-lib: finalizeAllInputs + extractTransaction.
function opFinalize(L, req) {
  if (req.lib && req.lib !== 'bitcoinjs') throw new Error(`finalize: unknown lib ${req.lib}`);
  const network = bjsNetwork(L, req.network || 'regtest');
  const psbt = L.bitcoinjs.Psbt.fromBase64(req.psbt, { network });
  psbt.finalizeAllInputs();
  const tx = psbt.extractTransaction();
  return { txHex: tx.toHex(), txid: tx.getId() };
}

// bench: time bitcoinjs-lib signing one station's signatures and finalizing
// with a second station's set on the same PSBT, inside Node
// (process.hrtime.bigint around the work only: no startup, no JSON). Each
// of `rounds` rounds (default 1) starts again from req.psbt:
//   parse:    Psbt.fromBase64
//   sign:     bip32 fromBase58 + derivePath(paths[i]) + signInput(i, node)
//             + validateSignaturesOfInput(i, ..., pub) for every input
//             (ownVerifyMs is the validation part of signMs)
//   finalize: updateInput(i, {partialSig}) for every signature in req.sigs
//             ({input, pubkey, signature} in hex), finalizeAllInputs,
//             extractTransaction (bitcoinjs-lib checks no signature here)
//   verifyAll (unless req.verifyAll is false; timed apart, not in
//             finalizeMs, on a copy made before finalizing):
//             validateSignaturesOfAllInputs.
// Returns {signMs, finalizeMs} of the fastest round (by sign+finalize),
// every round in "rounds", and the final transaction's hex and txid.
function opBench(L, req) {
  const network = bjsNetwork(L, req.network || 'regtest');
  const validator = (pk, msghash, sig) => L.ecc.verify(msghash, pk, sig);
  const ms = (a, b) => Number(b - a) / 1e6;
  const now = process.hrtime.bigint;
  const sigs = (req.sigs || []).map((s) => ({ input: s.input, pubkey: hexToBytes(s.pubkey), signature: hexToBytes(s.signature) }));
  const rounds = [];
  let txHex = '';
  let txid = '';
  for (let r = 0; r < (req.rounds || 1); r++) {
    const t0 = now();
    const psbt = L.bitcoinjs.Psbt.fromBase64(req.psbt, { network });
    const t1 = now();
    const master = L.bip32.fromBase58(req.xprv, network);
    let verifyNs = 0n;
    psbt.data.inputs.forEach((_, i) => {
      const node = master.derivePath(req.paths[i]);
      psbt.signInput(i, node);
      const v0 = now();
      if (!psbt.validateSignaturesOfInput(i, validator, node.publicKey)) {
        throw new Error(`bitcoinjs: own signature on input ${i} does not validate`);
      }
      verifyNs += now() - v0;
    });
    const t2 = now();
    for (const s of sigs) {
      psbt.updateInput(s.input, { partialSig: [{ pubkey: s.pubkey, signature: s.signature }] });
    }
    const t3 = now();
    let t4 = now();
    let t5 = t4;
    if (req.verifyAll !== false) {
      const check = psbt.clone();
      t4 = now();
      if (!check.validateSignaturesOfAllInputs(validator)) throw new Error('bitcoinjs: a signature does not validate');
      t5 = now();
    }
    psbt.finalizeAllInputs();
    const tx = psbt.extractTransaction();
    const t6 = now();
    txHex = tx.toHex();
    txid = tx.getId();
    rounds.push({
      parseMs: ms(t0, t1),
      signMs: ms(t1, t2),
      ownVerifyMs: Number(verifyNs) / 1e6,
      finalizeMs: ms(t2, t3) + ms(t5, t6),
      verifyAllMs: ms(t4, t5),
    });
  }
  let best = rounds[0];
  for (const r of rounds) if (r.signMs + r.finalizeMs < best.signMs + best.finalizeMs) best = r;
  return { signMs: best.signMs, finalizeMs: best.finalizeMs, rounds, txHex, txid };
}

const OPS = { derive: opDerive, multisig: opMultisig, sign: opSign, create: opCreate, finalize: opFinalize, bench: opBench };

function errorSlot(e) {
  const msg = e && e.message ? e.message : String(e);
  return { error: msg.split('\n')[0] };
}

async function main() {
  const input = fs.readFileSync(0, 'utf8');
  let req;
  try {
    req = JSON.parse(input);
  } catch (e) {
    process.stderr.write(`peer.js: request is not JSON: ${e.message}\n`);
    process.exit(2);
  }
  if (!req || !Array.isArray(req.ops)) {
    process.stderr.write('peer.js: request has no "ops" array\n');
    process.exit(2);
  }
  const L = await loadLibs();
  const results = req.ops.map((op) => {
    try {
      const fn = OPS[op && op.op];
      if (!fn) throw new Error(`unknown op ${op && op.op}`);
      return fn(L, op);
    } catch (e) {
      return errorSlot(e);
    }
  });
  process.stdout.write(JSON.stringify({ results, libraries: libraries() }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`peer.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
