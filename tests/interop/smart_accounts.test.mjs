// Issue 5's chain oracle: signerd's smart accounts against the real contracts on a real EVM. Starts a Hardhat 2 node
// on loopback (Cancun, offline), deploys EntryPoint + SimpleAccountFactory for v0.6, v0.7 and v0.8 from the npm
// artifacts of @account-abstraction/contracts (aa-contracts-v06/07/08 in package.json), and starts signerd (env
// SIGNERD_BINARY) with one network per version on that chain (factory addresses as deployed here; the implementation
// is left for signerd to derive as CREATE(factory, 1); the proxy code is signerd's built-in one) and a relayer key
// of its own, funded on the chain. A fourth network reaches the same node through a proxy in this file that can be
// switched to fail (unreachable, a refusing node, a transaction that is lost, a gas estimate too low).
// Checks: every aaAddress equals factory.getAddress(owner, 0); activation deploys code at exactly that address and
// the account's owner() is the owner (v0.6/v0.7 through the relayer, v0.8 through EntryPoint.handleOps with the
// owner-signed UserOperation, whose hash must equal EntryPoint.getUserOpHash on chain); the fee is charged once;
// failures release it; a daemon killed mid-activation finishes the deployment after a restart; a network added by a
// reload (SIGHUP) deploys. No expected address or hash is written here: the chain is the oracle.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { aaArtifact, aaPackages, deployAccountContracts, freePort, startHardhat, waitFor } from './lib/hardhat.mjs';

const signerd = process.env.SIGNERD_BINARY;

function unixRequest(socketPath, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'signerd-smart-'));
let hardhat, daemon, provider, rpcUrl, socketPath, baseUrl, app, relayerKeyId, proxyServer, proxyUrl;
const deployed = {};  // version -> {entryPoint, factory, abi}
let proxyMode = 'up';  // see startProxy

// A JSON-RPC proxy in front of the Hardhat node, for the failure cases:
//   up          forwards everything
//   down        closes every connection unanswered (the node is unreachable)
//   refuse-send answers eth_sendRawTransaction with a JSON-RPC error, as a node refusing the transaction does
//   drop-send   closes the connection on eth_sendRawTransaction without forwarding it (lost on the way)
//   low-gas     answers eth_estimateGas with 30000, so the deployment runs out of gas on chain
function startProxy(port) {
  proxyServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      if (proxyMode === 'down') return req.socket.destroy();
      const call = JSON.parse(body);
      if (call.method === 'eth_sendRawTransaction' && proxyMode === 'drop-send') return req.socket.destroy();
      const reply = (obj) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (call.method === 'eth_sendRawTransaction' && proxyMode === 'refuse-send') {
        return reply({ jsonrpc: '2.0', id: call.id, error: { code: -32003, message: 'insufficient funds for gas * price + value' } });
      }
      if (call.method === 'eth_estimateGas' && proxyMode === 'low-gas') return reply({ jsonrpc: '2.0', id: call.id, result: '0x7530' });
      const upstream = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(await upstream.text());
    });
  });
  return new Promise((resolve) => proxyServer.listen(port, '127.0.0.1', resolve));
}

function writeConfig({ relayer, late = false }) {
  let networks = '';
  const network = (name, version, url) => {
    const d = deployed[version];
    networks += `[[smart_accounts.networks]]\nname = "${name}"\nchain_id = 31337\n` +
      `version = "${version}"\nentry_point = "${d.entryPoint}"\nfactory = "${d.factoryAddress}"\n` +
      `rpc_url = "${url}"\nactivation_fee = "250000"\n` + (relayer ? `relayer_key_id = "${relayer}"\n` : '');
  };
  for (const version of Object.keys(deployed)) network(`Hardhat${version.replace('.', '')}`, version, rpcUrl);
  network('HardhatProxy07', '0.7', proxyUrl);
  if (late) network('HardhatLate07', '0.7', rpcUrl);  // added by a reload (SIGHUP)
  writeFileSync(join(tmp, 'signerd.toml'), `[hsm]\nmodule = "/usr/lib/softhsm/libsofthsm2.so"\ntoken_label = "smart"\n` +
    `pin_file = "${join(tmp, 'pin')}"\n[store]\npath = "${join(tmp, 'signerd.db')}"\n[listen]\n` +
    `unix_socket = "${socketPath}"\ntcp = "${baseUrl.replace('http://', '')}"\n[log]\nlevel = "warn"\n` +
    `[smart_accounts]\npoll_interval_ms = 100\nrpc_timeout_ms = 3000\n${networks}`);
}

async function startDaemon() {
  daemon = spawn(signerd, ['--config', join(tmp, 'signerd.toml')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(async () => (await unixRequest(socketPath, 'GET', '/healthz')).status === 200, 'signerd');
}

async function stopDaemon(signal = 'SIGTERM') {
  if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill(signal);
  await exited;
}

before(async () => {
  assert.ok(signerd, 'SIGNERD_BINARY must name the signerd binary');
  // 1. The chain, and the proxy in front of it.
  const chain = await startHardhat(join(tmp, 'hardhat'));
  ({ process: hardhat, rpcUrl, provider } = chain);
  const proxyPort = await freePort();
  await startProxy(proxyPort);
  proxyUrl = `http://127.0.0.1:${proxyPort}/rpc?apikey=not-a-real-secret`;

  // 2. EntryPoint and SimpleAccountFactory of each version, from the published artifacts.
  const deployer = await provider.getSigner(0);
  for (const version of Object.keys(aaPackages)) {
    const d = await deployAccountContracts(version, deployer);
    deployed[version] = {
      entryPoint: d.entryPointAddress, entryPointContract: d.entryPoint, factory: d.factory,
      factoryAddress: d.factoryAddress, account: aaArtifact(version, 'SimpleAccount').abi,
    };
  }

  // 3. signerd: a first start makes the relayer key, which the chain funds; the second start names it.
  process.env.SOFTHSM2_CONF = join(tmp, 'softhsm2.conf');
  mkdirSync(join(tmp, 'tokens'));
  writeFileSync(process.env.SOFTHSM2_CONF, `directories.tokendir = ${join(tmp, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'smart', '--pin', '1234', '--so-pin', '5678'], { stdio: 'ignore' });
  writeFileSync(join(tmp, 'pin'), '1234\n', { mode: 0o600 });
  socketPath = join(tmp, 'signerd.sock');
  baseUrl = `http://127.0.0.1:${await freePort()}`;
  writeConfig({});
  await startDaemon();
  const key = await unixRequest(socketPath, 'POST', '/keys', JSON.stringify({ scheme: 'ECDSA', curve: 'secp256k1', name: 'relayer' }));
  assert.equal(key.status, 200, JSON.stringify(key.body));
  relayerKeyId = key.body.id;
  const relayer = ethers.computeAddress('0x' + key.body.publicKey);
  await (await deployer.sendTransaction({ to: relayer, value: ethers.parseEther('100') })).wait();
  await stopDaemon();
  writeConfig({ relayer: relayerKeyId });
  await startDaemon();
  const created = await unixRequest(socketPath, 'POST', '/smart-account-apps', JSON.stringify({ name: 'interop' }));
  assert.equal(created.status, 200, JSON.stringify(created.body));
  app = created.body;
});

after(async () => {
  await stopDaemon();
  if (hardhat && hardhat.exitCode === null) hardhat.kill('SIGTERM');
  if (proxyServer) proxyServer.close();
  rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
async function signed(method, target, body = '') {
  // Distinct nanoseconds per request: the same request twice inside the window is a replay.
  const timestamp = new Date().toISOString().replace('Z', String(++counter).padStart(6, '0') + 'Z');
  const signature = createHmac('sha256', Buffer.from(app.secret, 'hex'))
    .update(`${timestamp}\n${method}\n${target}\n${body}`).digest('hex');
  const res = await fetch(baseUrl + target, {
    method, body: body || undefined,
    headers: { 'content-type': 'application/json', 'x-app-id': app.appId, 'x-timestamp': timestamp, 'x-signature': signature },
  });
  return { status: res.status, body: await res.json() };
}

const owners = [
  '0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7',
  ethers.Wallet.createRandom().address,
  ethers.Wallet.createRandom().address,
];

async function createFor(owner) {
  const res = await signed('POST', '/api/v1/smart-account', JSON.stringify({ owner: { id: owner, provider: 'wallet' } }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

async function deposit(record, amount) {
  const res = await signed('POST', `/api/v1/smart-account/${record.id}/gas-tanks/${record.gasTanks[0].id}/deposits`,
    JSON.stringify({ amount }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.gasTank.balance;
}

const accountOn = (record, network) => record.accounts.find((a) => a.network === network);
const activate = (record, account, body = '') =>
  signed('POST', `/api/v1/smart-account/${record.id}/accounts/${account.id}/activate`, body);
async function current(record) {
  const res = await signed('GET', `/api/v1/smart-account/${record.id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}
async function untilStatus(record, network, status) {
  let last;
  await waitFor(async () => {
    last = accountOn(await current(record), network);
    return last.status === status;
  }, `${network} ${status}`, 60000);
  return last;
}
async function balanceOf(record) {
  // The balance is the sum of the ledger; this reads it back from the record.
  return (await current(record)).gasTanks[0].balance;
}

test('every aaAddress equals factory.getAddress(owner, 0) on the chain, for v0.6, v0.7 and v0.8', async () => {
  for (const owner of owners) {
    const record = await createFor(owner);
    assert.equal(record.accounts.length, 4);
    for (const account of record.accounts) {
      const d = deployed[account.version];
      assert.ok(d, `unexpected version ${account.version}`);
      const onChain = await d.factory['getAddress(address,uint256)'](owner, 0n);
      assert.equal(account.aaAddress, onChain, `${account.network} owner ${owner}`);
      assert.equal(account.aaAddress, ethers.getAddress(account.aaAddress), 'aaAddress is EIP-55');
      assert.equal(account.chainId, 31337);
      assert.equal(account.status, 'not_deployed');
      assert.equal(await provider.getCode(account.aaAddress), '0x', 'nothing is deployed there yet');
    }
  }
});

test("signerd's default implementation is the factory's own (CREATE(factory, 1))", async () => {
  for (const [version, d] of Object.entries(deployed)) {
    const implementation = await d.factory.accountImplementation();
    assert.equal(implementation, ethers.getCreateAddress({ from: d.factoryAddress, nonce: 1 }), `v${version}`);
  }
});

test('a second POST for the same owner returns the same record', async () => {
  const body = JSON.stringify({ owner: { id: owners[0].toLowerCase(), provider: 'wallet' } });
  const first = await signed('POST', '/api/v1/smart-account', body);
  const second = await signed('POST', '/api/v1/smart-account', body);
  assert.equal(first.status, 200);
  assert.deepEqual(second.body.data, first.body.data);
  assert.equal(second.body.message, 'smart account already exists');
});

async function checkDeployed(record, network, owner) {
  const account = await untilStatus(record, network, 'deployed');
  assert.notEqual(await provider.getCode(account.aaAddress), '0x', 'code at aaAddress');
  const d = deployed[account.version];
  const onChain = new ethers.Contract(account.aaAddress, d.account, provider);
  assert.equal(await onChain.owner(), owner, 'the deployed account belongs to the owner');
  assert.equal(await onChain.entryPoint(), d.entryPoint);
  const receipt = await provider.getTransactionReceipt(account.txHash);
  assert.equal(receipt.status, 1);
  assert.equal(account.blockNumber, receipt.blockNumber);
  return account;
}

for (const version of ['0.6', '0.7']) {
  test(`v${version}: activation is refused until the tank covers the fee, then the relayer deploys the account`, async () => {
    const owner = ethers.Wallet.createRandom().address;
    const network = `Hardhat${version.replace('.', '')}`;
    const record = await createFor(owner);
    const account = accountOn(record, network);
    const refused = await activate(record, account);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.data.balance, '0');
    assert.equal(refused.body.data.activationFee, '250000');
    assert.equal(await deposit(record, '1000000'), '1000000');
    const started = await activate(record, account);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.data.account.status, 'deploying');
    assert.match(started.body.data.account.txHash, /^0x[0-9a-f]{64}$/);
    const tx = await provider.getTransaction(started.body.data.account.txHash);
    assert.equal(tx.to, deployed[version].factoryAddress, 'the relayer called the factory');
    assert.equal(tx.type, 2, 'an EIP-1559 transaction');
    await checkDeployed(record, network, owner);
    assert.equal(await balanceOf(record), '750000', 'the fee is charged once');
    const again = await activate(record, account);
    assert.equal(again.status, 400, JSON.stringify(again.body));
    assert.match(again.body.message, /already deployed/);
  });
}

test('v0.8: the owner signs the UserOperation whose hash the EntryPoint computes, and handleOps deploys the account', async () => {
  const owner = ethers.Wallet.createRandom();
  const record = await createFor(owner.address);
  const account = accountOn(record, 'Hardhat08');
  await deposit(record, '250000');
  const first = await activate(record, account);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const { userOpHash, userOperation: op, entryPoint } = first.body.data;
  assert.equal(entryPoint, deployed['0.8'].entryPoint);
  assert.equal(op.sender, account.aaAddress);
  assert.equal(first.body.data.account.status, 'not_deployed', 'the first call changes nothing');
  // The chain's own hash of the same op.
  const packed = {
    sender: op.sender, nonce: op.nonce,
    initCode: ethers.concat([op.factory, op.factoryData]), callData: op.callData,
    accountGasLimits: ethers.concat([ethers.toBeHex(op.verificationGasLimit, 16), ethers.toBeHex(op.callGasLimit, 16)]),
    preVerificationGas: op.preVerificationGas,
    gasFees: ethers.concat([ethers.toBeHex(op.maxPriorityFeePerGas, 16), ethers.toBeHex(op.maxFeePerGas, 16)]),
    paymasterAndData: '0x', signature: '0x',
  };
  assert.equal(await deployed['0.8'].entryPointContract.getUserOpHash(packed), userOpHash);

  // Someone else's signature is refused and changes nothing.
  const stranger = ethers.Wallet.createRandom();
  const wrong = await activate(record, account, JSON.stringify({ signature: stranger.signingKey.sign(userOpHash).serialized }));
  assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
  assert.match(wrong.body.message, /not by the owner/);
  assert.equal(await balanceOf(record), '250000');

  const second = await activate(record, account, JSON.stringify({ signature: owner.signingKey.sign(userOpHash).serialized }));
  assert.equal(second.status, 202, JSON.stringify(second.body));
  const tx = await provider.getTransaction(second.body.data.account.txHash);
  assert.equal(tx.to, deployed['0.8'].entryPoint, 'the relayer called EntryPoint.handleOps');
  await checkDeployed(record, 'Hardhat08', owner.address);
  assert.equal(await balanceOf(record), '0');
});

test('an unreachable node: 503, nothing reserved or changed; once it is back the same call deploys', async () => {
  const owner = ethers.Wallet.createRandom().address;
  const record = await createFor(owner);
  const account = accountOn(record, 'HardhatProxy07');
  await deposit(record, '300000');
  proxyMode = 'down';
  try {
    const refused = await activate(record, account);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.data.network, 'HardhatProxy07');
    assert.doesNotMatch(JSON.stringify(refused.body), /apikey|not-a-real-secret|\/rpc/, 'the URL path stays secret');
    const now = await current(record);
    assert.equal(accountOn(now, 'HardhatProxy07').status, 'not_deployed');
    assert.equal(now.gasTanks[0].balance, '300000');
  } finally {
    proxyMode = 'up';
  }
  const started = await activate(record, account);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await checkDeployed(record, 'HardhatProxy07', owner);
  assert.equal(await balanceOf(record), '50000');
});

test('a node that refuses the transaction: the fee is released and the reason kept; a retry deploys', async () => {
  const owner = ethers.Wallet.createRandom().address;
  const record = await createFor(owner);
  const account = accountOn(record, 'HardhatProxy07');
  await deposit(record, '250000');
  proxyMode = 'refuse-send';
  try {
    const refused = await activate(record, account);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.match(refused.body.message, /insufficient funds/);
    const now = accountOn(await current(record), 'HardhatProxy07');
    assert.equal(now.status, 'not_deployed');
    assert.match(now.reason, /insufficient funds/);
    assert.equal(await balanceOf(record), '250000', 'reserved, then released');
  } finally {
    proxyMode = 'up';
  }
  assert.equal((await activate(record, account)).status, 202);
  await checkDeployed(record, 'HardhatProxy07', owner);
});

test('a transaction that reverts on chain releases the fee; the account stays not_deployed with the reason', async () => {
  const owner = ethers.Wallet.createRandom().address;
  const record = await createFor(owner);
  const account = accountOn(record, 'HardhatProxy07');
  await deposit(record, '250000');
  proxyMode = 'low-gas';
  let txHash;
  try {
    const started = await activate(record, account);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    txHash = started.body.data.account.txHash;
  } finally {
    proxyMode = 'up';
  }
  const failed = await untilStatus(record, 'HardhatProxy07', 'not_deployed');
  assert.equal((await provider.getTransactionReceipt(txHash)).status, 0, 'the chain reverted it');
  assert.match(failed.reason, /reverted/);
  assert.equal(await provider.getCode(account.aaAddress), '0x');
  assert.equal(await balanceOf(record), '250000');
});

test('a daemon killed after recording a lost transaction resends it on restart: one deployment, one charge', async () => {
  const owner = ethers.Wallet.createRandom().address;
  const record = await createFor(owner);
  const account = accountOn(record, 'HardhatProxy07');
  await deposit(record, '250000');
  proxyMode = 'drop-send';
  let txHash;
  try {
    const started = await activate(record, account);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.match(started.body.message, /resends/);
    txHash = started.body.data.account.txHash;
    assert.equal(await provider.getTransaction(txHash), null, 'the node never saw it');
    await stopDaemon('SIGKILL');
  } finally {
    proxyMode = 'up';
  }
  await startDaemon();
  const done = await checkDeployed(record, 'HardhatProxy07', owner);
  assert.equal(done.txHash, txHash, 'the recorded transaction itself was sent');
  assert.equal(await balanceOf(record), '0', 'charged once');
});

test('a network added by a reload (SIGHUP) with its rpc_url and relayer: a record POSTed again gets it, and it deploys', async () => {
  const owner = ethers.Wallet.createRandom().address;
  const before = await createFor(owner);
  assert.equal(accountOn(before, 'HardhatLate07'), undefined);
  writeConfig({ relayer: relayerKeyId, late: true });
  daemon.kill('SIGHUP');
  let record;
  await waitFor(async () => {
    record = await createFor(owner);
    return accountOn(record, 'HardhatLate07') !== undefined;
  }, 'the reload to add HardhatLate07', 10000);
  assert.equal(record.id, before.id, 'the same record, with one more account');
  const account = accountOn(record, 'HardhatLate07');
  assert.equal(account.aaAddress, await deployed['0.7'].factory['getAddress(address,uint256)'](owner, 0n));
  await deposit(record, '250000');
  const started = await activate(record, account);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await checkDeployed(record, 'HardhatLate07', owner);
  assert.equal(await balanceOf(record), '0', 'the fee is charged once');
});
