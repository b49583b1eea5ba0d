signerd_gtest(ecdsa_test SOURCES unit/ecdsa_test.cc LIBS signerd_chains OpenSSL::Crypto LABELS unit)
