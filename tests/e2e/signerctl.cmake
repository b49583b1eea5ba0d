# signerctl against the built daemon (over its Unix socket and TCP) and against a SoftHSM token (hsm check).
# SQLite: the audit test alters a row of the daemon's database behind its back.
signerd_gtest(signerctl_e2e_test SOURCES e2e/signerctl_test.cc LIBS signerd_e2e_support SQLite::SQLite3 LABELS e2e)
add_dependencies(signerctl_e2e_test signerd signerctl)
target_compile_definitions(signerctl_e2e_test PRIVATE SIGNERCTL_BINARY="$<TARGET_FILE:signerctl>")
