signerd_gtest(auth_crypto_test SOURCES unit/auth_crypto_test.cc LIBS signerd_core LABELS unit)
