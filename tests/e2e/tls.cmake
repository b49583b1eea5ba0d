# TLS on the TCP listener: the built signerd with certificates the openssl CLI makes at test time.
signerd_gtest(tls_e2e_test SOURCES e2e/tls_test.cc LIBS signerd_e2e_support OpenSSL::SSL LABELS e2e)
add_dependencies(tls_e2e_test signerd)
