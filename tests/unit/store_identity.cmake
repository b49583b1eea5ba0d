signerd_gtest(store_identity_test SOURCES unit/store_identity_test.cc LIBS signerd_store LABELS unit)
