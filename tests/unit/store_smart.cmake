signerd_gtest(store_smart_test SOURCES unit/store_smart_test.cc LIBS signerd_store LABELS unit)
