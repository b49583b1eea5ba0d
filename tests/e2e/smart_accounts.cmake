# Smart accounts (POST /api/v1/smart-account and after) against the built daemon: app signatures, idempotency,
# owners, deposits, activation refusals; an app made with signerctl.
signerd_gtest(smart_accounts_e2e_test SOURCES e2e/smart_accounts_test.cc LIBS signerd_e2e_support OpenSSL::Crypto
  LABELS e2e)
add_dependencies(smart_accounts_e2e_test signerd signerctl)
target_compile_definitions(smart_accounts_e2e_test PRIVATE SIGNERCTL_BINARY="$<TARGET_FILE:signerctl>")
