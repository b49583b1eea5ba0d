signerd_gtest(store_test SOURCES unit/store_test.cc LIBS signerd_store LABELS unit)
