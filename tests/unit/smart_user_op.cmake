# smart/user_operation: the createAccount and handleOps calls, the v0.8 UserOperation and its hash, recover_signer
# (structure, refusals, a round trip with libsecp256k1); and the vector printer the Node oracle test
# (tests/interop/user_operation.test.mjs) checks against ethers and a real EntryPoint on Hardhat.
signerd_gtest(smart_user_op_test SOURCES unit/smart_user_op_test.cc LIBS signerd_smart PkgConfig::SECP256K1 LABELS unit)

add_executable(userop_vectors ${PROJECT_SOURCE_DIR}/smart/tools/userop_vectors.cc)
target_link_libraries(userop_vectors PRIVATE signerd_smart PkgConfig::SECP256K1 Boost::json)
signerd_warnings(userop_vectors)
