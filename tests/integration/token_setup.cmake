signerd_gtest(token_setup_test SOURCES integration/token_setup_test.cc LIBS signerd_hsm LABELS integration)
