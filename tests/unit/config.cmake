signerd_gtest(config_test SOURCES unit/config_test.cc LIBS signerd_config LABELS unit)
target_compile_definitions(config_test PRIVATE SIGNERD_EXAMPLE_CONFIG="${PROJECT_SOURCE_DIR}/config/signerd.example.toml")
