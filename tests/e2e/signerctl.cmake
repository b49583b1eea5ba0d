# signerctl against the built daemon (over its Unix socket and TCP) and against a SoftHSM token (hsm check).
# signerd_signerctl_support runs the built signerctl and captures what it prints and its exit code.
add_library(signerd_signerctl_support STATIC support/signerctl_run.cc)
target_link_libraries(signerd_signerctl_support PUBLIC Boost::json GTest::gtest)
target_include_directories(signerd_signerctl_support PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(signerd_signerctl_support PRIVATE SIGNERCTL_BINARY="$<TARGET_FILE:signerctl>")
signerd_warnings(signerd_signerctl_support)

# SQLite: the audit test alters a row of the daemon's database behind its back.
signerd_gtest(signerctl_e2e_test SOURCES e2e/signerctl_test.cc
  LIBS signerd_e2e_support signerd_signerctl_support SQLite::SQLite3 LABELS e2e)
add_dependencies(signerctl_e2e_test signerd signerctl)

# signerctl over --url against the daemon serving TLS on TCP: https with --cacert, user-action signing with the
# service account's credential (--cred-id, --credential-key-file), and the refusals (untrusted CA, another host name,
# a key file others can read, a change without the credential).
signerd_gtest(signerctl_remote_e2e_test SOURCES e2e/signerctl_remote_test.cc
  LIBS signerd_e2e_support signerd_signerctl_support LABELS e2e)
add_dependencies(signerctl_remote_e2e_test signerd signerctl)
