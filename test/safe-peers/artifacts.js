#!/usr/bin/env node
// Writes Safe contract artifacts ({abi, bytecode}) from the pinned npm packages
// into OUTDIR so Go tests can deploy them into go-ethereum's simulated backend.
//
//   node artifacts.js OUTDIR
//
// Layout:
//   OUTDIR/<version>/<Contract>.json   {"contractName","abi","bytecode","deployedBytecode","source"}
//   OUTDIR/erc20.json, OUTDIR/erc721.json (OpenZeppelin 4.9.6 mintable presets)
//   OUTDIR/delay.json                  Zodiac Delay modifier (@gnosis.pm/zodiac: ABI + mastercopy init code)
//   OUTDIR/index.json                  versions -> contract -> relative file, plus roles
'use strict';

const fs = require('fs');
const path = require('path');

// Where each artifact lives inside its package. The package names are the ones in
// package.json (1.1.1 and 1.2.0 come in under npm aliases).
const ART13 = 'build/artifacts/contracts';
const SOURCES = {
  '1.1.1': {
    pkg: 'safe-contracts-1.1.1', // npm:@gnosis.pm/safe-contracts@1.1.1 (truffle build, solc 0.5.14)
    contracts: {
      GnosisSafe: 'build/contracts/GnosisSafe.json',
      ProxyFactory: 'build/contracts/ProxyFactory.json',
      Proxy: 'build/contracts/Proxy.json',
      MultiSend: 'build/contracts/MultiSend.json',
      DefaultCallbackHandler: 'build/contracts/DefaultCallbackHandler.json',
    },
    roles: {
      singleton: 'GnosisSafe',
      proxyFactory: 'ProxyFactory',
      proxy: 'Proxy',
      multiSend: 'MultiSend',
      fallbackHandler: 'DefaultCallbackHandler',
    },
  },
  '1.2.0': {
    pkg: 'safe-contracts-1.2.0', // npm:@gnosis.pm/safe-contracts@1.2.0 (truffle build, solc 0.5.17)
    contracts: {
      GnosisSafe: 'build/contracts/GnosisSafe.json',
      GnosisSafeProxyFactory: 'build/contracts/GnosisSafeProxyFactory.json',
      GnosisSafeProxy: 'build/contracts/GnosisSafeProxy.json',
      MultiSend: 'build/contracts/MultiSend.json',
      DefaultCallbackHandler: 'build/contracts/DefaultCallbackHandler.json',
    },
    roles: {
      singleton: 'GnosisSafe',
      proxyFactory: 'GnosisSafeProxyFactory',
      proxy: 'GnosisSafeProxy',
      multiSend: 'MultiSend',
      fallbackHandler: 'DefaultCallbackHandler',
    },
  },
  '1.3.0': {
    pkg: '@gnosis.pm/safe-contracts', // 1.3.0 (hardhat build)
    contracts: {
      GnosisSafe: `${ART13}/GnosisSafe.sol/GnosisSafe.json`,
      GnosisSafeProxyFactory: `${ART13}/proxies/GnosisSafeProxyFactory.sol/GnosisSafeProxyFactory.json`,
      GnosisSafeProxy: `${ART13}/proxies/GnosisSafeProxy.sol/GnosisSafeProxy.json`,
      MultiSendCallOnly: `${ART13}/libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json`,
      MultiSend: `${ART13}/libraries/MultiSend.sol/MultiSend.json`,
      SignMessageLib: `${ART13}/examples/libraries/SignMessage.sol/SignMessageLib.json`,
      CompatibilityFallbackHandler: `${ART13}/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json`,
    },
    roles: {
      singleton: 'GnosisSafe',
      proxyFactory: 'GnosisSafeProxyFactory',
      proxy: 'GnosisSafeProxy',
      multiSendCallOnly: 'MultiSendCallOnly',
      multiSend: 'MultiSend',
      signMessageLib: 'SignMessageLib',
      fallbackHandler: 'CompatibilityFallbackHandler',
    },
  },
  '1.4.1': {
    pkg: '@safe-global/safe-contracts', // 1.4.1 (hardhat build)
    contracts: {
      Safe: `${ART13}/Safe.sol/Safe.json`,
      SafeProxyFactory: `${ART13}/proxies/SafeProxyFactory.sol/SafeProxyFactory.json`,
      SafeProxy: `${ART13}/proxies/SafeProxy.sol/SafeProxy.json`,
      MultiSendCallOnly: `${ART13}/libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json`,
      MultiSend: `${ART13}/libraries/MultiSend.sol/MultiSend.json`,
      SignMessageLib: `${ART13}/libraries/SignMessageLib.sol/SignMessageLib.json`,
      CompatibilityFallbackHandler: `${ART13}/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json`,
    },
    roles: {
      singleton: 'Safe',
      proxyFactory: 'SafeProxyFactory',
      proxy: 'SafeProxy',
      multiSendCallOnly: 'MultiSendCallOnly',
      multiSend: 'MultiSend',
      signMessageLib: 'SignMessageLib',
      fallbackHandler: 'CompatibilityFallbackHandler',
    },
  },
  '1.5.0': {
    pkg: '@safe-global/safe-smart-account', // 1.5.0 (hardhat build)
    contracts: {
      Safe: `${ART13}/Safe.sol/Safe.json`,
      SafeProxyFactory: `${ART13}/proxies/SafeProxyFactory.sol/SafeProxyFactory.json`,
      SafeProxy: `${ART13}/proxies/SafeProxy.sol/SafeProxy.json`,
      MultiSendCallOnly: `${ART13}/libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json`,
      MultiSend: `${ART13}/libraries/MultiSend.sol/MultiSend.json`,
      SignMessageLib: `${ART13}/libraries/SignMessageLib.sol/SignMessageLib.json`,
      CompatibilityFallbackHandler: `${ART13}/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json`,
    },
    roles: {
      singleton: 'Safe',
      proxyFactory: 'SafeProxyFactory',
      proxy: 'SafeProxy',
      multiSendCallOnly: 'MultiSendCallOnly',
      multiSend: 'MultiSend',
      signMessageLib: 'SignMessageLib',
      fallbackHandler: 'CompatibilityFallbackHandler',
    },
  },
};

const TOKENS = {
  // ERC20PresetMinterPauser: constructor(string name, string symbol); deployer gets
  // MINTER_ROLE; mint(address to, uint256 amount).
  erc20: { pkg: '@openzeppelin/contracts', file: 'build/contracts/ERC20PresetMinterPauser.json' },
  // ERC721PresetMinterPauserAutoId: constructor(string name, string symbol, string baseTokenURI);
  // deployer gets MINTER_ROLE; mint(address to) assigns ids 0,1,2,...
  erc721: { pkg: '@openzeppelin/contracts', file: 'build/contracts/ERC721PresetMinterPauserAutoId.json' },
};

// Cross-check: @safe-global/safe-deployments (a dependency of protocol-kit) records
// the keccak256 of the runtime code of each canonical mainnet deployment. Where the
// artifact's deployedBytecode has no immutables, its hash must equal that codeHash.
const DEPLOYMENT_FILES = {
  GnosisSafe: 'gnosis_safe', Safe: 'safe',
  ProxyFactory: 'proxy_factory', GnosisSafeProxyFactory: 'proxy_factory', SafeProxyFactory: 'safe_proxy_factory',
  MultiSend: 'multi_send', MultiSendCallOnly: 'multi_send_call_only', SignMessageLib: 'sign_message_lib',
  CompatibilityFallbackHandler: 'compatibility_fallback_handler', DefaultCallbackHandler: 'default_callback_handler',
};

function canonicalCheck(version, name, art) {
  const { keccak256 } = require('ethers');
  const base = DEPLOYMENT_FILES[name];
  if (!base || !art.deployedBytecode) return { status: 'n/a' };
  let d;
  try {
    d = JSON.parse(fs.readFileSync(path.join(pkgDir('@safe-global/safe-deployments'), 'dist', 'assets', `v${version}`, `${base}.json`), 'utf8'));
  } catch (_) {
    return { status: 'n/a' };
  }
  const c = d.deployments && d.deployments.canonical;
  if (!c || !c.codeHash) return { status: 'n/a' };
  const got = keccak256(art.deployedBytecode);
  return { status: got === c.codeHash.toLowerCase() ? 'match' : 'differs', address: c.address, codeHash: c.codeHash };
}

function pkgDir(name) {
  return path.dirname(require.resolve(`${name}/package.json`, { paths: [__dirname] }));
}

function pkgVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(pkgDir(name), 'package.json'), 'utf8')).version;
}

function hex(v, what) {
  // truffle/hardhat store bytecode as a 0x string; older solc-json as {object: "..."}
  if (v && typeof v === 'object' && typeof v.object === 'string') v = v.object;
  if (typeof v !== 'string') throw new Error(`${what}: no bytecode`);
  if (!v.startsWith('0x')) v = '0x' + v;
  if (!/^0x([0-9a-fA-F]{2})*$/.test(v)) throw new Error(`${what}: bytecode is not plain hex (unlinked library?)`);
  return v.toLowerCase();
}

function load(pkg, rel, name) {
  const dir = pkgDir(pkg);
  const file = path.join(dir, rel);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const what = `${pkg}/${rel}`;
  if (!Array.isArray(raw.abi)) throw new Error(`${what}: no abi`);
  const bytecode = hex(raw.bytecode, what);
  if (bytecode === '0x') throw new Error(`${what}: empty bytecode (abstract contract?)`);
  return {
    contractName: raw.contractName || name,
    abi: raw.abi,
    bytecode,
    deployedBytecode: raw.deployedBytecode ? hex(raw.deployedBytecode, what) : undefined,
    source: `${realName(pkg)}@${pkgVersion(pkg)}/${rel}`,
  };
}

function realName(pkg) {
  // resolve npm aliases (safe-contracts-1.2.0 -> @gnosis.pm/safe-contracts)
  return JSON.parse(fs.readFileSync(path.join(pkgDir(pkg), 'package.json'), 'utf8')).name;
}

function write(outDir, rel, art, note = '') {
  const file = path.join(outDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(art, null, 2) + '\n');
  const size = (art.bytecode.length - 2) / 2;
  console.log(`${rel.padEnd(44)} ${art.contractName.padEnd(32)} bytecode=${String(size).padStart(5)}B abi=${String(art.abi.length).padStart(3)} ${note ? note + ' ' : ''}from ${art.source}`);
}

function main() {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write('usage: node artifacts.js OUTDIR\n');
    process.exit(2);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const index = { versions: {}, roles: {}, packages: {}, tokens: {} };
  for (const [version, src] of Object.entries(SOURCES)) {
    const got = pkgVersion(src.pkg);
    if (got !== version) throw new Error(`${src.pkg} is ${got}, expected ${version}`);
    index.versions[version] = {};
    index.roles[version] = src.roles;
    index.packages[version] = `${realName(src.pkg)}@${got}`;
    for (const [name, rel] of Object.entries(src.contracts)) {
      const art = load(src.pkg, rel, name);
      if (art.contractName !== name) throw new Error(`${art.source}: contractName ${art.contractName} != ${name}`);
      const out = `${version}/${name}.json`;
      const chk = canonicalCheck(version, name, art);
      art.canonical = chk.status === 'n/a' ? undefined : { address: chk.address, codeHash: chk.codeHash, deployedBytecodeMatches: chk.status === 'match' };
      write(outDir, out, art, `canonicalCodeHash=${chk.status}`);
      index.versions[version][name] = out;
    }
  }
  for (const [key, t] of Object.entries(TOKENS)) {
    const art = load(t.pkg, t.file, key);
    const out = `${key}.json`;
    write(outDir, out, art);
    index.tokens[key] = { file: out, contractName: art.contractName, source: art.source };
  }
  {
    // Zodiac's Delay modifier: the package ships the ABI and the mastercopy's
    // creation code (initData/Delay.js, deployed by its singleton factory);
    // the constructor (owner, avatar, target, cooldown, expiration) calls
    // setUp, so a direct deployment is a configured modifier.
    const pkg = '@gnosis.pm/zodiac';
    const dir = path.join(__dirname, 'node_modules', ...pkg.split('/')); // its exports hide package.json
    const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    const abi = JSON.parse(fs.readFileSync(path.join(dir, 'dist', 'cjs', 'abi', 'Delay.json'), 'utf8'));
    const { initCode } = require(path.join(dir, 'dist', 'cjs', 'initData', 'Delay.js'));
    // initCode ends with the mastercopy's placeholder constructor arguments
    // (five static words); cut them so a deployment takes its own.
    const ctor = abi.find((x) => x.type === 'constructor');
    let code = hex(initCode, `${pkg}/dist/cjs/initData/Delay.js`);
    const n = (code.length - 2) / 2 - 32 * ctor.inputs.length;
    // The creation code reads its arguments from its own length: check it.
    if (!code.includes('62' + n.toString(16).padStart(6, '0') + '38038062' + n.toString(16).padStart(6, '0'))) {
      throw new Error(`${pkg}: Delay init code does not read its ${ctor.inputs.length} constructor arguments at offset ${n}`);
    }
    code = code.slice(0, 2 + 2 * n);
    const art = { contractName: 'Delay', abi, bytecode: code, source: `${pkg}@${version}/dist/cjs/initData/Delay.js` };
    write(outDir, 'delay.json', art);
    index.tokens.delay = { file: 'delay.json', contractName: 'Delay', source: art.source };
  }
  fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index, null, 2) + '\n');
  console.log(`index.json: ${Object.keys(index.versions).length} Safe versions (${Object.keys(index.versions).join(', ')}), tokens: ${Object.keys(index.tokens).join(', ')}`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`artifacts.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
}
