// A local EVM for the smart-account oracles: Hardhat 2's node on loopback (Cancun, offline; hardhat.config.cjs), and
// the EntryPoint + SimpleAccountFactory of @account-abstraction/contracts deployed from their npm artifacts.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';

const interopDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

// The npm aliases of the contract versions (package.json).
export const aaPackages = { '0.6': 'aa-contracts-v06', '0.7': 'aa-contracts-v07', '0.8': 'aa-contracts-v08' };
export const aaArtifact = (version, name) => require(`${aaPackages[version]}/artifacts/${name}.json`);

export const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export async function waitFor(check, what, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Starts a node with its scratch files under `dir` and waits for it: {process, rpcUrl, provider}. The provider does
// not cache, so the same getCode before and after a deployment asks the node twice. Stop it with
// process.kill('SIGTERM').
export async function startHardhat(dir) {
  const port = await freePort();
  mkdirSync(join(dir, 'no-sources'), { recursive: true });
  const child = spawn(join(interopDir, 'node_modules/.bin/hardhat'),
    ['--config', join(interopDir, 'hardhat.config.cjs'), 'node', '--hostname', '127.0.0.1', '--port', String(port)],
    { cwd: interopDir, env: { ...process.env, SIGNERD_HARDHAT_DIR: dir, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' },
      stdio: ['ignore', 'ignore', 'inherit'] });
  const rpcUrl = `http://127.0.0.1:${port}`;
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  await waitFor(async () => (await provider.getNetwork()).chainId === 31337n, 'the Hardhat node');
  return { process: child, rpcUrl, provider };
}

// Deploys EntryPoint and SimpleAccountFactory of `version` with `signer`: {entryPoint, entryPointAddress, factory,
// factoryAddress} (ethers contracts and their addresses). The EntryPoint needs more than 5M gas.
export async function deployAccountContracts(version, signer) {
  const ep = aaArtifact(version, 'EntryPoint');
  const fa = aaArtifact(version, 'SimpleAccountFactory');
  const entryPoint = await new ethers.ContractFactory(ep.abi, ep.bytecode, signer).deploy({ gasLimit: 15_000_000 });
  await entryPoint.waitForDeployment();
  const entryPointAddress = await entryPoint.getAddress();
  const factory = await new ethers.ContractFactory(fa.abi, fa.bytecode, signer)
    .deploy(entryPointAddress, { gasLimit: 15_000_000 });
  await factory.waitForDeployment();
  return { entryPoint, entryPointAddress, factory, factoryAddress: await factory.getAddress() };
}
