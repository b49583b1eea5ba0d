signerd_gtest(store_wallets_test SOURCES unit/store_wallets_test.cc LIBS signerd_store LABELS unit)
