signerd_gtest(common_test SOURCES unit/common_test.cc LIBS signerd_common signerd_log LABELS unit)
