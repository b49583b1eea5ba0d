# The component logs of the built daemon (common/log.h): hsm and store lines at their levels, and no secret in any
# line even at trace, through a real SoftHSM token behind the fault-injecting module.
signerd_gtest(logging_e2e_test SOURCES e2e/logging_test.cc LIBS signerd_e2e_support LABELS e2e)
add_dependencies(logging_e2e_test signerd signerd_p11fault)
