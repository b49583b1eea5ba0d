# chains/ beyond ECDSA: hashes, codecs, EVM, addresses (vectors in the tests), and the vector printer the Node oracle
# test (tests/interop/addresses.test.mjs) checks.
signerd_gtest(chains_test
  SOURCES unit/chains_codecs_test.cc unit/chains_evm_test.cc unit/chains_address_test.cc
  LIBS signerd_chains
  LABELS unit)

add_executable(chains_vectors ${PROJECT_SOURCE_DIR}/chains/tools/chains_vectors.cc)
target_link_libraries(chains_vectors PRIVATE signerd_chains PkgConfig::SECP256K1 OpenSSL::Crypto Boost::json)
signerd_warnings(chains_vectors)
