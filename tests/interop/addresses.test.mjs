// signerd's chains/ derivations checked by libraries we did not write: ethers (EVM addresses, EIP-55, keccak256,
// RLP, EIP-191, CREATE/CREATE2), bitcoinjs-lib (P2WPKH for Bitcoin and Litecoin), @solana/web3.js (Solana), bs58check + ethers
// (Tron), bech32 (Cosmos), @stellar/stellar-base (Stellar), @noble/curves (the keys themselves).
//
// The C++ side is the chains_vectors tool: SIGNERD_CHAINS_VECTORS must name it (the CTest entry passes
// $<TARGET_FILE:chains_vectors>); without it the test fails rather than skips. SIGNERD_CHAINS_SEED replays a run (the
// seed used is printed first).
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import {
  computeAddress,
  decodeRlp,
  encodeRlp,
  getAddress,
  getBytes,
  getCreate2Address,
  getCreateAddress,
  hashMessage,
  keccak256,
} from 'ethers';
import * as bitcoin from 'bitcoinjs-lib';
import bs58 from 'bs58';
import { PublicKey } from '@solana/web3.js';
import bs58check from 'bs58check';
import { bech32 } from 'bech32';
import { StrKey } from '@stellar/stellar-base';
import { secp256k1 } from '@noble/curves/secp256k1';
import { ed25519 } from '@noble/curves/ed25519';

const TOOL = process.env.SIGNERD_CHAINS_VECTORS;
const SEED = process.env.SIGNERD_CHAINS_SEED || crypto.randomBytes(8).toString('hex');
const COUNT = 24;

// ---- the oracle: each Dfns network's address, from dfns-api.md §3, computed by the libraries above ---------------

// Litecoin's parameters (bitcoinjs-lib ships Bitcoin's only); P2WPKH depends on the bech32 hrp alone (SLIP-173).
const LITECOIN = {
  messagePrefix: '\x19Litecoin Signed Message:\n',
  bech32: 'ltc',
  bip32: { public: 0x019da462, private: 0x019d9cfe },
  pubKeyHash: 0x30,
  scriptHash: 0x32,
  wif: 0xb0,
};
const LITECOIN_TESTNET = { ...LITECOIN, bech32: 'tltc', pubKeyHash: 0x6f, scriptHash: 0x3a, wif: 0xef };

const hash160 = (bytes) =>
  crypto.createHash('ripemd160').update(crypto.createHash('sha256').update(bytes).digest()).digest();

const evm = (pk) => computeAddress('0x' + pk).toLowerCase();
const p2wpkh = (network) => (pk) => bitcoin.payments.p2wpkh({ pubkey: Buffer.from(pk, 'hex'), network }).address;
const tron = (pk) => bs58check.encode(Buffer.concat([Buffer.from([0x41]), getBytes(computeAddress('0x' + pk))]));
const cosmos = (pk) => bech32.encode('cosmos', bech32.toWords(hash160(Buffer.from(pk, 'hex'))));
const solana = (pk) => new PublicKey(Buffer.from(pk, 'hex')).toBase58();
const stellar = (pk) => StrKey.encodeEd25519PublicKey(Buffer.from(pk, 'hex'));

// The EVM row of dfns-api.md §3, "*" expanded from networks.txt, less the networks it marks unverified.
const EVM_NETWORKS = [
  'Ethereum', 'EthereumSepolia', 'EthereumHolesky', 'EthereumHoodi', 'EthereumGoerli', 'EthereumClassic',
  'EthereumClassicMordor', 'ArbitrumOne', 'ArbitrumSepolia', 'AvalancheC', 'AvalancheCFuji', 'Base', 'BaseSepolia',
  'Bsc', 'BscTestnet', 'Optimism', 'OptimismSepolia', 'Polygon', 'PolygonAmoy', 'PolygonMumbai', 'FantomOpera',
  'FantomTestnet', 'Berachain', 'BerachainBArtio', 'BerachainBepolia', 'Bob', 'BobSepolia', 'Celo', 'CeloAlfajores',
  'Codex', 'CodexSepolia', 'FlareC', 'FlareCCoston2', 'FlowEvm', 'FlowEvmTestnet', 'Ink', 'InkSepolia', 'Plasma',
  'PlasmaTestnet', 'Plume', 'PlumeSepolia', 'Race', 'RaceSepolia', 'Sonic', 'SonicTestnet', 'XLayer',
  'XLayerSepolia', 'Tempo', 'TempoAndantino', 'TempoModerato', 'Adi', 'AdiTestnet', 'AdiTestnetAb', 'ArcTestnet',
  'BesuTestnet',
];
const SECP256K1_NETWORKS = {
  ...Object.fromEntries(EVM_NETWORKS.map((n) => [n, evm])),
  Bitcoin: p2wpkh(bitcoin.networks.bitcoin),
  BitcoinTestnet3: p2wpkh(bitcoin.networks.testnet),
  BitcoinTestnet4: p2wpkh(bitcoin.networks.testnet),
  BitcoinSignet: p2wpkh(bitcoin.networks.testnet),
  Litecoin: p2wpkh(LITECOIN),
  LitecoinTestnet: p2wpkh(LITECOIN_TESTNET),
  Tron: tron,
  TronNile: tron,
  CosmosHub4: cosmos,
};
const ED25519_NETWORKS = { Solana: solana, SolanaDevnet: solana, Stellar: stellar, StellarTestnet: stellar };

// The oracle's own anchors: published addresses (see tests/unit/chains_address_test.cc for the sources), so a wrong
// oracle cannot agree with a wrong C++ derivation.
test('the oracle reproduces published addresses', () => {
  const keyOne = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
  assert.equal(SECP256K1_NETWORKS.Ethereum(keyOne), '0x7e5f4552091a69125d5dfcb7b8c2659029395bdf');
  assert.equal(SECP256K1_NETWORKS.Bitcoin(keyOne), 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4');
  assert.equal(SECP256K1_NETWORKS.BitcoinTestnet3(keyOne), 'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx');
  assert.equal(SECP256K1_NETWORKS.Litecoin(keyOne), 'ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9');
  assert.equal(SECP256K1_NETWORKS.LitecoinTestnet(keyOne), 'tltc1qw508d6qejxtdg4y5r3zarvary0c5xw7klfsuq0');
  assert.equal(SECP256K1_NETWORKS.Tron(keyOne), 'TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC');
  assert.equal(
    SECP256K1_NETWORKS.CosmosHub4('02d41a0aa167b21699429eab224bc03f2cd386f0af5d20cefbd0336f1544aea24f'),
    'cosmos1h806c7khnvmjlywdrkdgk2vrayy2mmvf9rxk2r',
  );
  assert.equal(ED25519_NETWORKS.Solana('03' + '00'.repeat(31)), 'CiDwVBFgWV9E5MvXWoLgnEgn2hK7rJikbvfWavzAQz3');
  assert.equal(
    ED25519_NETWORKS.Stellar('3f0c34bf93ad0d9971d04ccc90f705511c838aad9734a4a2fb0d7a03fc7fe89a'),
    'GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ',
  );
});

// ---- the C++ side --------------------------------------------------------------------------------------------------

function runTool(args, input) {
  assert.ok(TOOL, 'SIGNERD_CHAINS_VECTORS must name the chains_vectors binary');
  const r = spawnSync(TOOL, args, { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.error, undefined, `cannot run ${TOOL}: ${r.error}`);
  assert.equal(r.status, 0, `${TOOL} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe(`chains_vectors (seed ${SEED})`, () => {
  let v;
  before(() => {
    console.log(`# SIGNERD_CHAINS_SEED=${SEED}`);
    v = runTool(['vectors', SEED, String(COUNT)]);
  });

  test('supports exactly the networks the oracle knows', () => {
    assert.deepEqual(
      [...v.networks].sort(),
      [...Object.keys(SECP256K1_NETWORKS), ...Object.keys(ED25519_NETWORKS)].sort(),
    );
  });

  test('secp256k1 keys: every network address matches the oracle, from either SEC1 form', () => {
    assert.equal(v.secp256k1.length, COUNT);
    for (const k of v.secp256k1) {
      // The key itself: a point on the curve whose two encodings agree (noble).
      const point = secp256k1.ProjectivePoint.fromHex(k.compressed);
      assert.equal(point.toHex(false), k.uncompressed);
      assert.equal(getAddress(computeAddress('0x' + k.uncompressed)), k.eip55, 'EIP-55 form');
      for (const derived of [k.addresses, k.addresses_from_uncompressed]) {
        assert.deepEqual(Object.keys(derived).sort(), Object.keys(SECP256K1_NETWORKS).sort());
        for (const [network, oracle] of Object.entries(SECP256K1_NETWORKS)) {
          assert.equal(derived[network], oracle(k.compressed), `${network} for ${k.compressed}`);
        }
      }
    }
  });

  test('ed25519 keys: Solana and Stellar addresses match the oracle', () => {
    assert.equal(v.ed25519.length, COUNT);
    for (const k of v.ed25519) {
      ed25519.ExtendedPoint.fromHex(k.public_key); // a real ed25519 point
      assert.deepEqual(Object.keys(k.addresses).sort(), Object.keys(ED25519_NETWORKS).sort());
      for (const [network, oracle] of Object.entries(ED25519_NETWORKS)) {
        assert.equal(k.addresses[network], oracle(k.public_key), `${network} for ${k.public_key}`);
      }
      assert.equal(Buffer.from(StrKey.decodeEd25519PublicKey(k.addresses.Stellar)).toString('hex'), k.public_key);
    }
  });

  test('keccak256 and EIP-191 match ethers', () => {
    for (const { input, hash } of v.keccak256) assert.equal(keccak256('0x' + input), '0x' + hash, `keccak256(${input})`);
    for (const { message, hash } of v.eip191) {
      assert.equal(hashMessage(getBytes('0x' + message)), '0x' + hash, `hashMessage(${message})`);
    }
  });

  test('RLP encodings match ethers, and ethers decodes them back', () => {
    for (const { item, encoded } of v.rlp) {
      assert.equal(encodeRlp(item), '0x' + encoded);
      assert.deepEqual(decodeRlp('0x' + encoded), item);
    }
  });

  test('Base58 and Base58Check match bs58 and bs58check', () => {
    for (const { bytes, text } of v.base58) assert.equal(bs58.encode(Buffer.from(bytes, 'hex')), text, bytes);
    for (const { payload, text } of v.base58check) {
      assert.equal(bs58check.encode(Buffer.from(payload, 'hex')), text, payload);
    }
  });

  test('CREATE and CREATE2 addresses match ethers', () => {
    for (const { sender, nonce, address } of v.create) {
      assert.equal(getCreateAddress({ from: sender, nonce: BigInt(nonce) }).toLowerCase(), address, `${sender}/${nonce}`);
    }
    for (const { deployer, salt, init_code, address } of v.create2) {
      assert.equal(getCreate2Address(deployer, salt, keccak256(init_code)), address);
    }
  });
});

// ---- RLP decoding: ethers encodes, signerd decodes -----------------------------------------------------------------

function randomItem(depth) {
  if (depth < 4 && crypto.randomInt(3) === 0) {
    return Array.from({ length: crypto.randomInt(6) }, () => randomItem(depth + 1));
  }
  const lengths = [0, 1, 1, 1, 2, 55, 56, 57, 200, 1024];
  const n = crypto.randomInt(2) ? lengths[crypto.randomInt(lengths.length)] : crypto.randomInt(100);
  return '0x' + crypto.randomBytes(n).toString('hex');
}

test('signerd decodes what ethers encodes, and refuses non-canonical input', () => {
  const items = Array.from({ length: 200 }, () => randomItem(0));
  // Non-canonical or malformed encodings that a lenient decoder would accept or misread.
  const bad = ['8100', '817f', 'b800', 'b80100', 'f80100', 'b90000', 'c3836361', '83646f6700', ''];
  const lines = [...items.map((i) => encodeRlp(i).slice(2)), ...bad];
  const out = runTool(['rlp-decode'], lines.join('\n') + '\n');
  assert.equal(out.length, lines.length);
  items.forEach((item, i) => assert.deepEqual(out[i], { item }, `line ${i}: ${lines[i]}`));
  bad.forEach((hex, j) => {
    const r = out[items.length + j];
    assert.ok(r.error && r.error.startsWith('RLP: '), `${hex} should be refused, got ${JSON.stringify(r)}`);
  });
});
