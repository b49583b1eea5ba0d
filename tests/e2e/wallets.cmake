signerd_gtest(wallets_e2e_test SOURCES e2e/wallets_test.cc LIBS signerd_e2e_support LABELS e2e)
add_dependencies(wallets_e2e_test signerd)
