# The hsm component's log lines (common/log.h), captured with a test sink, against a real SoftHSM token and the
# fault-injecting module.
signerd_gtest(hsm_log_test SOURCES integration/hsm_log_test.cc LIBS signerd_hsm signerd_log LABELS integration)
add_dependencies(hsm_log_test signerd_p11fault)
target_compile_definitions(hsm_log_test PRIVATE SIGNERD_P11FAULT_MODULE="$<TARGET_FILE:signerd_p11fault>")
