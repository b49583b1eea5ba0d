# smart/json_rpc.h against a real Ethereum node: each test starts Hardhat 2's `hardhat node` from tests/interop
# (installed by `npm ci`, which ./scripts/test runs first; the tests skip when it is missing) on a free loopback port.
signerd_gtest(json_rpc_hardhat_test SOURCES integration/json_rpc_hardhat_test.cc
  LIBS signerd_smart PkgConfig::SECP256K1 Boost::headers LABELS integration)
target_compile_definitions(json_rpc_hardhat_test PRIVATE SIGNERD_INTEROP_DIR="${PROJECT_SOURCE_DIR}/tests/interop")
