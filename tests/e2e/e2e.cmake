# End-to-end: the built signerd over its real Unix socket and TCP port, with a real SoftHSM token.
add_library(signerd_e2e_support STATIC
  support/daemon_process.cc support/daemon_fixture.cc support/dfns_client.cc support/test_pki.cc)
target_link_libraries(signerd_e2e_support PUBLIC signerd_test_support Boost::json GTest::gtest PRIVATE OpenSSL::Crypto)
target_compile_definitions(signerd_e2e_support PUBLIC
  SIGNERD_BINARY="$<TARGET_FILE:signerd>"
  SIGNERD_P11FAULT_MODULE="$<TARGET_FILE:signerd_p11fault>")
signerd_warnings(signerd_e2e_support)

signerd_gtest(daemon_e2e_test SOURCES e2e/daemon_test.cc LIBS signerd_e2e_support LABELS e2e)
add_dependencies(daemon_e2e_test signerd signerd_p11fault)
target_compile_definitions(daemon_e2e_test PRIVATE SIGNERD_OPENAPI="${PROJECT_SOURCE_DIR}/api/openapi.yaml")
