# Smart accounts (POST /api/v1/smart-account and after) against the built daemon: app signatures, idempotency,
# owners, deposits, activation refusals; apps made, listed and revoked with signerctl and the admin routes.
# signerd_hsm: a second client of the daemon's token checks that a revoked app's key is gone.
signerd_gtest(smart_accounts_e2e_test SOURCES e2e/smart_accounts_test.cc LIBS signerd_e2e_support signerd_hsm
  OpenSSL::Crypto LABELS e2e)
add_dependencies(smart_accounts_e2e_test signerd signerctl)
target_compile_definitions(smart_accounts_e2e_test PRIVATE SIGNERCTL_BINARY="$<TARGET_FILE:signerctl>")
