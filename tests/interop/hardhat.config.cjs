// The local EVM node of smart_accounts.test.mjs: Hardhat 2's network, Cancun (v0.8's EntryPoint uses MCOPY), offline.
// No contracts are compiled here (the deployed bytecode comes from @account-abstraction/contracts artifacts), so
// sources point at an empty folder and no compiler is ever downloaded.
const os = require('node:os');
const path = require('node:path');

const scratch = process.env.SIGNERD_HARDHAT_DIR || path.join(os.tmpdir(), 'signerd-hardhat');
module.exports = {
  solidity: '0.8.28',
  paths: {
    sources: path.join(scratch, 'no-sources'),
    cache: path.join(scratch, 'cache'),
    artifacts: path.join(scratch, 'artifacts'),
  },
  networks: {
    // A reverted transaction is mined and reported by its receipt, as real nodes do (Hardhat's default would make
    // eth_sendRawTransaction itself fail).
    hardhat: {
      hardfork: 'cancun', chainId: 31337, allowUnlimitedContractSize: false, blockGasLimit: 30_000_000,
      throwOnTransactionFailures: false,
    },
  },
};
