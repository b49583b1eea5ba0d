# smart/json_rpc.h: URL parsing, and the JSON-RPC client and eth_* helpers against a scripted node (Beast, on a
# loopback socket, HTTP and HTTPS with certificates the test makes).
signerd_gtest(smart_json_rpc_test SOURCES unit/smart_json_rpc_test.cc
  LIBS signerd_smart Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads LABELS unit)
