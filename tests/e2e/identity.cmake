# Identity end to end: tokens, user actions, permissions, delegation, custody and the audit trail.
signerd_gtest(identity_e2e_test SOURCES e2e/identity_test.cc LIBS signerd_e2e_support signerd_common LABELS e2e)
add_dependencies(identity_e2e_test signerd)
target_compile_definitions(identity_e2e_test PRIVATE SIGNERD_OPENAPI="${PROJECT_SOURCE_DIR}/api/openapi.yaml")
