# The store component's log lines (common/log.h), captured with a test sink.
signerd_gtest(store_log_test SOURCES unit/store_log_test.cc LIBS signerd_store signerd_log LABELS unit)
