# hsm/ HMAC keys (smart-account app secrets) against a real SoftHSM token, checked with OpenSSL's HMAC.
signerd_gtest(hsm_hmac_test SOURCES integration/hsm_hmac_test.cc LIBS signerd_hsm OpenSSL::Crypto LABELS integration)
