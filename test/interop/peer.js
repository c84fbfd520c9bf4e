// An independent peer for airlock's tests: the reference JavaScript
// implementations of BC-UR (@ngraveio/bc-ur) and of the UR registry for
// Ethereum (@keystonehq/bc-ur-registry-eth), driven from Go tests.
//
//   node peer.js ur-decode                 < parts (one per line)  -> {"type","cbor"}
//   node peer.js ur-encode TYPE HEX MAX N  -> N parts, one per line
//   node peer.js eth-request-parse         < one UR                -> JSON fields
//   node peer.js eth-signature-make SIGHEX REQIDHEX ORIGIN         -> one UR
'use strict';
const { UR, UREncoder, URDecoder } = require('@ngraveio/bc-ur');
const { EthSignRequest, ETHSignature } = require('@keystonehq/bc-ur-registry-eth');

function stdinLines() {
  return require('fs').readFileSync(0, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
}

function decode(lines) {
  const d = new URDecoder();
  for (const l of lines) {
    d.receivePart(l);
    if (d.isComplete()) break;
  }
  if (!d.isComplete()) throw new Error('incomplete after ' + lines.length + ' parts');
  if (!d.isSuccess()) throw new Error('decode failed: ' + d.resultError());
  return d.resultUR();
}

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case 'ur-decode': {
    const ur = decode(stdinLines());
    console.log(JSON.stringify({ type: ur.type, cbor: ur.cbor.toString('hex') }));
    break;
  }
  case 'ur-encode': {
    const [type, hex, max, n] = args;
    const enc = new UREncoder(new UR(Buffer.from(hex, 'hex'), type), Number(max), 0, 10);
    for (let i = 0; i < Number(n); i++) console.log(enc.nextPart());
    break;
  }
  case 'eth-request-parse': {
    const ur = decode(stdinLines());
    if (ur.type !== 'eth-sign-request') throw new Error('type ' + ur.type);
    const r = EthSignRequest.fromCBOR(ur.cbor);
    console.log(JSON.stringify({
      requestId: r.getRequestId() ? r.getRequestId().toString('hex') : null,
      signData: r.getSignData().toString('hex'),
      dataType: r.getDataType(),
      chainId: r.getChainId() === undefined ? null : r.getChainId(),
      path: r.getDerivationPath(),
      xfp: r.getSourceFingerprint().toString('hex'),
      address: r.getSignRequestAddress() ? r.getSignRequestAddress().toString('hex') : null,
      origin: r.getOrigin() || null,
    }));
    break;
  }
  case 'eth-signature-make': {
    const [sig, reqId, origin] = args;
    const s = new ETHSignature(Buffer.from(sig, 'hex'), Buffer.from(reqId, 'hex'), origin);
    console.log(s.toUREncoder(1000).nextPart());
    break;
  }
  default:
    console.error('usage: node peer.js ur-decode|ur-encode|eth-request-parse|eth-signature-make');
    process.exit(2);
}
