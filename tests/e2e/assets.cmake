# The legacy asset accounts and public keys (dfns-api.md §4): the asynchronous flow, its limits and restarts, against
# the built daemon (and the fault-injecting PKCS#11 module for a slow or failing HSM).
signerd_gtest(assets_e2e_test SOURCES e2e/assets_test.cc LIBS signerd_e2e_support LABELS e2e)
add_dependencies(assets_e2e_test signerd signerd_p11fault)
