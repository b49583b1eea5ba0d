// What signerd adds to every ECDSA signature the HSM returns: low-s normalisation, the recovery id (which also
// verifies the signature against the key) and the DER encoding. Run: build/bench/finalize_bench
#include <benchmark/benchmark.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "chains/ecdsa.h"

namespace {

using signerd::Bytes;
using signerd::chains::EcCurve;

struct Sample {
  Bytes public_key;  // compressed, as signerd stores keys
  std::array<std::uint8_t, 32> digest{};
  Bytes raw;
};

Sample make_sample(const char* group) {
  Sample s;
  EVP_PKEY* key = EVP_EC_gen(group);
  std::size_t len = 0;
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &len);
  s.public_key.resize(len);
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, s.public_key.data(), len, &len);
  s.public_key = *signerd::chains::compress_point(s.public_key);
  RAND_bytes(s.digest.data(), 32);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  EVP_PKEY_sign_init(ctx);
  EVP_PKEY_sign(ctx, nullptr, &len, s.digest.data(), 32);
  Bytes der(len);
  EVP_PKEY_sign(ctx, der.data(), &len, s.digest.data(), 32);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  s.raw.resize(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), s.raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), s.raw.data() + 32, 32);
  ECDSA_SIG_free(sig);
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  return s;
}

// A sample whose recovery id is `recid`: for secp256k1 finding it costs one public-key recovery when it is 0 and
// two when it is 1, so each is measured; a signer sees both about equally often.
Sample make_sample(const char* group, EcCurve curve, int recid) {
  for (;;) {
    Sample s = make_sample(group);
    auto sig = signerd::chains::finalize_ecdsa(curve, s.digest, s.raw, s.public_key);
    if (sig && sig->recid == recid) return s;
  }
}

void finalize(benchmark::State& state, EcCurve curve, const char* group, int recid) {
  const Sample s = make_sample(group, curve, recid);
  for (auto _ : state) {
    auto sig = signerd::chains::finalize_ecdsa(curve, s.digest, s.raw, s.public_key);
    benchmark::DoNotOptimize(sig);
    auto der = signerd::chains::der_encode(*sig);
    benchmark::DoNotOptimize(der);
  }
}

BENCHMARK_CAPTURE(finalize, secp256k1_recid0, EcCurve::kSecp256k1, "secp256k1", 0)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(finalize, secp256k1_recid1, EcCurve::kSecp256k1, "secp256k1", 1)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(finalize, p256_recid0, EcCurve::kP256, "P-256", 0)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(finalize, p256_recid1, EcCurve::kP256, "P-256", 1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
