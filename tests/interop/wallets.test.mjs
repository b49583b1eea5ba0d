// Interop oracle for the Wallets API (dfns-api.md §3): wallet addresses a running signerd returns are recomputed
// from the wallet's signingKey.publicKey with ethers (EVM) and bitcoinjs-lib (Bitcoin P2WPKH). Run by CTest through
// tests/e2e/with_daemon (see interop.cmake).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import * as bitcoin from 'bitcoinjs-lib';
import { closeClients, daemonEnv, request } from './lib/client.mjs';

async function call(method, path, body, via = 'unix') {
  const res = await request(method, path, body, { via });
  assert.equal(res.status, 200, `${method} ${path} via ${via}: HTTP ${res.status} ${res.text}`);
  return res.body;
}

function assertWallet(w, network) {
  assert.match(w.id, /^wa-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$/);
  assert.equal(w.network, network);
  assert.equal(w.status, 'Active');
  assert.equal(w.custodial, true);
  assert.ok(Array.isArray(w.tags));
  assert.ok(!Number.isNaN(Date.parse(w.dateCreated)));
  assert.match(w.signingKey.id, /^key-/);
}

before(() => daemonEnv());
after(() => closeClients());

describe('EVM wallets', () => {
  test('the address is ethers.computeAddress of the signing key, lowercase', async () => {
    for (const network of ['Ethereum', 'EthereumSepolia', 'Polygon', 'Base']) {
      const w = await call('POST', '/wallets', { network }, 'tcp');
      assertWallet(w, network);
      assert.equal(w.signingKey.curve, 'secp256k1');
      assert.match(w.address, /^0x[0-9a-f]{40}$/);
      assert.equal(ethers.computeAddress('0x' + w.signingKey.publicKey).toLowerCase(), w.address);
    }
  });

  test('a reused key gives the same address on a second EVM network', async () => {
    const eth = await call('POST', '/wallets', { network: 'Ethereum' });
    const arb = await call('POST', '/wallets', { network: 'ArbitrumOne', signingKey: { id: eth.signingKey.id } });
    assert.equal(arb.signingKey.id, eth.signingKey.id);
    assert.equal(arb.address, eth.address);
    assert.equal(ethers.computeAddress('0x' + arb.signingKey.publicKey).toLowerCase(), arb.address);
    const key = await call('GET', `/keys/${eth.signingKey.id}`);
    assert.deepEqual(key.wallets, [{ id: eth.id, network: 'Ethereum' }, { id: arb.id, network: 'ArbitrumOne' }]);
  });
});

describe('Bitcoin wallets', () => {
  for (const [network, net] of [['Bitcoin', bitcoin.networks.bitcoin], ['BitcoinTestnet3', bitcoin.networks.testnet]]) {
    test(`${network}: the address is bitcoinjs-lib's P2WPKH of the signing key`, async () => {
      const w = await call('POST', '/wallets', { network });
      assertWallet(w, network);
      const pubkey = Buffer.from(w.signingKey.publicKey, 'hex');
      assert.equal(pubkey.length, 33);
      const { address } = bitcoin.payments.p2wpkh({ pubkey, network: net });
      assert.equal(w.address, address);
      const got = await call('GET', `/wallets/${w.id}`);
      assert.deepEqual(got, w);
    });
  }
});

describe('bad input', () => {
  test('an unsupported network is a Dfns 400 and creates no key', async () => {
    const before = (await call('GET', '/keys?limit=500')).items.length;
    const res = await request('POST', '/wallets', { network: 'Cardano' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.status, 400);
    assert.equal(res.body.error.message, 'unsupported network: Cardano');
    assert.equal((await call('GET', '/keys?limit=500')).items.length, before);
  });
});
