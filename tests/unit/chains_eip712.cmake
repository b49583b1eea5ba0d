# chains/eip712 and chains/evm_tx: EIP-712 typed-data digests and EVM transactions (vectors in the tests), and the
# vector printer the Node oracle test (tests/interop/evm.test.mjs) checks against ethers.
signerd_gtest(chains_eip712_test
  SOURCES unit/chains_eip712_test.cc unit/chains_tx_test.cc
  LIBS signerd_chains PkgConfig::SECP256K1 Boost::json
  LABELS unit)

add_executable(evm_vectors ${PROJECT_SOURCE_DIR}/chains/tools/evm_vectors.cc)
target_link_libraries(evm_vectors PRIVATE signerd_chains Boost::json)
signerd_warnings(evm_vectors)
