# smart/: counterfactual addresses (the published vector, the canonical rows), amounts, the app request signature,
# network resolution.
signerd_gtest(smart_test SOURCES unit/smart_test.cc LIBS signerd_smart OpenSSL::Crypto LABELS unit)
