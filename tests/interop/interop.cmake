# Node oracles (see tests/interop/README.md). Included from tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is
# tests/. Needs `npm ci` in tests/interop first (./scripts/test does it).
add_test(NAME interop.keys
  COMMAND ${PROJECT_SOURCE_DIR}/tests/e2e/with_daemon $<TARGET_FILE:signerd> -- node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/keys.test.mjs)
set_tests_properties(interop.keys PROPERTIES LABELS interop TIMEOUT 120)

# The Wallets API: addresses against ethers and bitcoinjs-lib.
add_test(NAME interop.wallets
  COMMAND ${PROJECT_SOURCE_DIR}/tests/e2e/with_daemon $<TARGET_FILE:signerd> -- node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/wallets.test.mjs)
set_tests_properties(interop.wallets PROPERTIES LABELS interop TIMEOUT 120)

# The oracle's own logic, against noble- and OpenSSL-made signatures; needs no daemon.
add_test(NAME interop.verify_selftest
  COMMAND node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/verify.selftest.mjs)
set_tests_properties(interop.verify_selftest PROPERTIES LABELS interop TIMEOUT 60)

# chains/ derivations (addresses, keccak, RLP, EIP-191, CREATE/CREATE2, Base58) against ethers, bitcoinjs-lib, bs58,
# bs58check, bech32 and @stellar/stellar-base, via the chains_vectors tool; needs no daemon.
add_test(NAME interop.addresses
  COMMAND ${CMAKE_COMMAND} -E env SIGNERD_CHAINS_VECTORS=$<TARGET_FILE:chains_vectors>
          node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/addresses.test.mjs)
set_tests_properties(interop.addresses PROPERTIES LABELS interop TIMEOUT 120)

# chains/ EIP-712 typed-data digests and EVM transactions against ethers, via the evm_vectors tool; needs no daemon.
add_test(NAME interop.evm
  COMMAND ${CMAKE_COMMAND} -E env SIGNERD_EVM_VECTORS=$<TARGET_FILE:evm_vectors>
          node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/evm.test.mjs)
set_tests_properties(interop.evm PROPERTIES LABELS interop TIMEOUT 120)

# Issue 3's acceptance test: the official @dfns/sdk + @dfns/sdk-keysigner drive signerd unchanged (tokens, user
# actions, keys, signatures, delegation to an end user who signs with its own login token).
add_test(NAME interop.dfns_sdk
  COMMAND ${PROJECT_SOURCE_DIR}/tests/e2e/with_daemon $<TARGET_FILE:signerd> -- node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/dfns_sdk.test.mjs)
set_tests_properties(interop.dfns_sdk PROPERTIES LABELS interop TIMEOUT 120)

# The legacy API (asset accounts, public keys): addresses against ethers, bitcoinjs-lib and bs58; public-key
# signatures against @noble/curves.
add_test(NAME interop.assets
  COMMAND ${PROJECT_SOURCE_DIR}/tests/e2e/with_daemon $<TARGET_FILE:signerd> -- node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/assets.test.mjs)
set_tests_properties(interop.assets PROPERTIES LABELS interop TIMEOUT 120)

# Issue 5: smart-account addresses against EntryPoint + SimpleAccountFactory (v0.6, v0.7, v0.8) deployed on a local
# Hardhat node; starts its own signerd (it must configure the networks with the deployed factories).
add_test(NAME interop.smart_accounts
  COMMAND ${CMAKE_COMMAND} -E env SIGNERD_BINARY=$<TARGET_FILE:signerd>
          node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/smart_accounts.test.mjs)
set_tests_properties(interop.smart_accounts PROPERTIES LABELS interop TIMEOUT 300)

# The proxy creation codes shipped in smart/ are exactly what the npm factories embed (re-extracted and compared).
add_test(NAME interop.proxy_creation_code
  COMMAND node ${PROJECT_SOURCE_DIR}/tools/extract_proxy_creation_code.mjs --check)
set_tests_properties(interop.proxy_creation_code PROPERTIES LABELS interop TIMEOUT 60)

# smart/user_operation: createAccount and handleOps calldata, the v0.8 userOpHash, the bundler JSON and recover_signer
# against ethers, via the userop_vectors tool; then on a Hardhat node with EntryPoint v0.8 + SimpleAccountFactory:
# getUserOpHash agrees, and zero-fee activation ops signed by random owners deploy their accounts. Needs no daemon.
add_test(NAME interop.user_operation
  COMMAND ${CMAKE_COMMAND} -E env SIGNERD_USEROP_VECTORS=$<TARGET_FILE:userop_vectors>
          node --test ${CMAKE_CURRENT_SOURCE_DIR}/interop/user_operation.test.mjs)
set_tests_properties(interop.user_operation PROPERTIES LABELS interop TIMEOUT 300)
