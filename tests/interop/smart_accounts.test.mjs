// Issue 5's chain oracle: signerd's counterfactual smart-account addresses against the real factories on a real
// EVM. Starts a Hardhat 2 node on loopback (Cancun, offline), deploys EntryPoint + SimpleAccountFactory for v0.6,
// v0.7 and v0.8 from the npm artifacts of @account-abstraction/contracts (aa-contracts-v06/07/08 in package.json),
// starts signerd (env SIGNERD_BINARY) with those networks (factory addresses as deployed here; the implementation is
// left for signerd to derive as CREATE(factory, 1); the proxy code is signerd's built-in one), creates an app with
// the admin route, and checks that every aaAddress signerd returns equals factory.getAddress(owner, 0), that the
// factory's implementation is what signerd derived, and that a second POST returns the same record. No expected
// address is written here: the chain is the oracle.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const signerd = process.env.SIGNERD_BINARY;
const versions = { '0.6': 'aa-contracts-v06', '0.7': 'aa-contracts-v07', '0.8': 'aa-contracts-v08' };

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitFor(check, what, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

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
let hardhat, daemon, provider, rpcUrl, socketPath, baseUrl, app;
const deployed = {};  // version -> {entryPoint, factory}

before(async () => {
  assert.ok(signerd, 'SIGNERD_BINARY must name the signerd binary');
  // 1. The chain.
  const rpcPort = await freePort();
  mkdirSync(join(tmp, 'hardhat', 'no-sources'), { recursive: true });
  hardhat = spawn(join(here, 'node_modules/.bin/hardhat'),
    ['--config', join(here, 'hardhat.config.cjs'), 'node', '--hostname', '127.0.0.1', '--port', String(rpcPort)],
    { cwd: here, env: { ...process.env, SIGNERD_HARDHAT_DIR: join(tmp, 'hardhat'), HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' },
      stdio: ['ignore', 'ignore', 'inherit'] });
  rpcUrl = `http://127.0.0.1:${rpcPort}`;
  provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  await waitFor(async () => (await provider.getNetwork()).chainId === 31337n, 'the Hardhat node');

  // 2. EntryPoint and SimpleAccountFactory of each version, from the published artifacts.
  const deployer = await provider.getSigner(0);
  for (const [version, pkg] of Object.entries(versions)) {
    const ep = require(`${pkg}/artifacts/EntryPoint.json`);
    const fa = require(`${pkg}/artifacts/SimpleAccountFactory.json`);
    const entryPoint = await new ethers.ContractFactory(ep.abi, ep.bytecode, deployer).deploy({ gasLimit: 15_000_000 });
    await entryPoint.waitForDeployment();
    const factory = await new ethers.ContractFactory(fa.abi, fa.bytecode, deployer)
      .deploy(await entryPoint.getAddress(), { gasLimit: 15_000_000 });
    await factory.waitForDeployment();
    deployed[version] = { entryPoint: await entryPoint.getAddress(), factory, abi: fa.abi };
  }

  // 3. signerd with one network per version on this chain.
  process.env.SOFTHSM2_CONF = join(tmp, 'softhsm2.conf');
  mkdirSync(join(tmp, 'tokens'));
  writeFileSync(process.env.SOFTHSM2_CONF, `directories.tokendir = ${join(tmp, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'smart', '--pin', '1234', '--so-pin', '5678'], { stdio: 'ignore' });
  writeFileSync(join(tmp, 'pin'), '1234\n', { mode: 0o600 });
  const port = await freePort();
  socketPath = join(tmp, 'signerd.sock');
  baseUrl = `http://127.0.0.1:${port}`;
  let networks = '';
  for (const [version, d] of Object.entries(deployed)) {
    networks += `[[smart_accounts.networks]]\nname = "Hardhat${version.replace('.', '')}"\nchain_id = 31337\n` +
      `version = "${version}"\nentry_point = "${d.entryPoint}"\nfactory = "${await d.factory.getAddress()}"\n` +
      `rpc_url = "${rpcUrl}"\nactivation_fee = "1"\n`;
  }
  writeFileSync(join(tmp, 'signerd.toml'), `[hsm]\nmodule = "/usr/lib/softhsm/libsofthsm2.so"\ntoken_label = "smart"\n` +
    `pin_file = "${join(tmp, 'pin')}"\n[store]\npath = "${join(tmp, 'signerd.db')}"\n[listen]\n` +
    `unix_socket = "${socketPath}"\ntcp = "127.0.0.1:${port}"\n[log]\nlevel = "warn"\n[smart_accounts]\n${networks}`);
  daemon = spawn(signerd, ['--config', join(tmp, 'signerd.toml')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(async () => (await unixRequest(socketPath, 'GET', '/healthz')).status === 200, 'signerd');
  const created = await unixRequest(socketPath, 'POST', '/smart-account-apps', JSON.stringify({ name: 'interop' }));
  assert.equal(created.status, 200, JSON.stringify(created.body));
  app = created.body;
});

after(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
  if (hardhat && hardhat.exitCode === null) hardhat.kill('SIGTERM');
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

test('every aaAddress equals factory.getAddress(owner, 0) on the chain, for v0.6, v0.7 and v0.8', async () => {
  for (const owner of owners) {
    const res = await signed('POST', '/api/v1/smart-account', JSON.stringify({ owner: { id: owner, provider: 'wallet' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 200);
    const accounts = res.body.data.accounts;
    assert.equal(accounts.length, 3);
    for (const account of accounts) {
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
    const factoryAddress = await d.factory.getAddress();
    assert.equal(implementation, ethers.getCreateAddress({ from: factoryAddress, nonce: 1 }), `v${version}`);
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

test('activation is refused until the gas tank covers the fee, then says deployment is not there yet', async () => {
  const created = await signed('POST', '/api/v1/smart-account', JSON.stringify({ owner: { id: owners[1], provider: 'wallet' } }));
  const { id, gasTanks, accounts } = created.body.data;
  const activate = () => signed('POST', `/api/v1/smart-account/${id}/accounts/${accounts[0].id}/activate`);
  const refused = await activate();
  assert.equal(refused.status, 400);
  assert.equal(refused.body.data.balance, '0');
  assert.equal(refused.body.data.activationFee, '1');
  const deposit = await signed('POST', `/api/v1/smart-account/${id}/gas-tanks/${gasTanks[0].id}/deposits`, '{"amount":"1"}');
  assert.equal(deposit.status, 200, JSON.stringify(deposit.body));
  const pending = await activate();
  assert.equal(pending.status, 503, JSON.stringify(pending.body));
  assert.equal(await provider.getCode(accounts[0].aaAddress), '0x');
});
