// chains_vectors: prints what signerd's chains/ code derives, for independent implementations to check
// (tests/interop/addresses.test.mjs). Not part of the daemon.
//
//   chains_vectors vectors SEED [COUNT]  JSON: COUNT random secp256k1 and ed25519 keys (deterministic from SEED) with
//                                        their address on every network address_for supports, and keccak256, EIP-191,
//                                        RLP, CREATE, CREATE2, Base58, Base58Check outputs for random inputs.
//   chains_vectors rlp-decode            reads one hex RLP encoding per line on stdin and prints a JSON array with,
//                                        per line, {"item": ...} (bytes as "0x..." strings, lists as arrays) or
//                                        {"error": "..."}.
// Exit status 0 on success, 2 on a usage error, 1 when a derivation fails (a bug: random valid keys must work).
#include <openssl/evp.h>
#include <secp256k1.h>

#include <boost/json.hpp>
#include <cstdint>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "chains/tools/vector_tool.h"
#include "chains/address.h"
#include "chains/base58.h"
#include "chains/evm.h"
#include "chains/hashes.h"
#include "chains/rlp.h"
#include "common/hex.h"

namespace signerd::chains {
namespace {

namespace json = boost::json;

using tools::bug;
using tools::Stream;

template <class T>
T value(Result<T> r, std::string_view what) {
  if (!r) bug(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

// A secp256k1 key pair's public halves, from a private key drawn from the stream.
std::pair<Bytes, Bytes> secp256k1_public_key(Stream& rng, const secp256k1_context* ctx) {
  for (;;) {
    const Bytes secret = rng.bytes(32);
    if (!secp256k1_ec_seckey_verify(ctx, secret.data())) continue;
    secp256k1_pubkey pub;
    if (!secp256k1_ec_pubkey_create(ctx, &pub, secret.data())) bug("secp256k1_ec_pubkey_create");
    Bytes compressed(33), uncompressed(65);
    std::size_t len = 33;
    secp256k1_ec_pubkey_serialize(ctx, compressed.data(), &len, &pub, SECP256K1_EC_COMPRESSED);
    len = 65;
    secp256k1_ec_pubkey_serialize(ctx, uncompressed.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
    return {compressed, uncompressed};
  }
}

// A real ed25519 public key (OpenSSL), from a 32-byte private key drawn from the stream.
Bytes ed25519_public_key(Stream& rng) {
  const Bytes secret = rng.bytes(32);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.data(), secret.size()), &EVP_PKEY_free);
  if (!key) bug("EVP_PKEY_new_raw_private_key(ED25519)");
  Bytes pub(32);
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != 32) bug("EVP_PKEY_get_raw_public_key");
  return pub;
}

json::object addresses(EcdsaOrEd25519::Curve curve, const Bytes& key) {
  json::object out;
  for (const std::string_view network : supported_networks()) {
    auto a = address_for(network, EcdsaOrEd25519{curve, key});
    if (a) {
      out[network] = *a;
    } else if (a.error().message.find("does not fit network") == std::string::npos) {
      bug("address_for(" + std::string(network) + "): " + a.error().message);
    }
  }
  return out;
}

// Lengths around the interesting boundaries of each codec (RLP 55/56, Keccak's 136-byte rate) and some random ones.
std::size_t interesting_length(Stream& rng) {
  static constexpr std::size_t kLengths[] = {0, 1, 2, 20, 31, 32, 33, 55, 56, 57, 135, 136, 137, 255, 256, 1024};
  return rng.below(3) == 0 ? rng.below(300) : kLengths[rng.below(std::size(kLengths))];
}

Bytes random_bytes(Stream& rng) {
  const std::size_t n = interesting_length(rng);
  Bytes b = rng.bytes(n);
  if (n > 0 && rng.below(4) == 0) b[0] = 0;  // leading zeros matter to Base58
  if (n > 1 && rng.below(8) == 0) b[1] = 0;
  return b;
}

RlpItem random_rlp(Stream& rng, int depth) {
  if (depth < 4 && rng.below(3) == 0) {
    std::vector<RlpItem> children;
    const std::size_t n = rng.below(6);
    for (std::size_t i = 0; i < n; ++i) children.push_back(random_rlp(rng, depth + 1));
    return RlpItem::list(std::move(children));
  }
  switch (rng.below(4)) {
    case 0: return RlpItem::bytes(rng.bytes(1));  // single bytes on both sides of 0x80
    case 1: return RlpItem::uint(rng.below(2) ? rng.u64() : rng.below(300));
    default: return RlpItem::bytes(rng.bytes(interesting_length(rng)));
  }
}

json::value rlp_json(const RlpItem& item) {
  if (!item.is_list()) return json::value(to_hex_0x(item.as_bytes()));
  json::array a;
  for (const RlpItem& child : item.as_list()) a.push_back(rlp_json(child));
  return a;
}

int print_vectors(const std::string& seed, std::size_t count) {
  Stream rng(seed);
  struct ContextDeleter {
    void operator()(secp256k1_context* c) const { secp256k1_context_destroy(c); }
  };
  std::unique_ptr<secp256k1_context, ContextDeleter> ctx(secp256k1_context_create(SECP256K1_CONTEXT_NONE));

  json::object out;
  out["seed"] = seed;
  json::array networks;
  for (const auto n : supported_networks()) networks.push_back(json::string(n));
  out["networks"] = std::move(networks);

  json::array secp;
  for (std::size_t i = 0; i < count; ++i) {
    const auto [compressed, uncompressed] = secp256k1_public_key(rng, ctx.get());
    json::object k;
    k["compressed"] = to_hex(compressed);
    k["uncompressed"] = to_hex(uncompressed);
    k["eip55"] = eip55_encode(value(evm_address(compressed), "evm_address"));
    k["addresses"] = addresses(EcdsaOrEd25519::Curve::kSecp256k1, compressed);
    k["addresses_from_uncompressed"] = addresses(EcdsaOrEd25519::Curve::kSecp256k1, uncompressed);
    secp.push_back(std::move(k));
  }
  out["secp256k1"] = std::move(secp);

  json::array ed;
  for (std::size_t i = 0; i < count; ++i) {
    const Bytes pub = ed25519_public_key(rng);
    json::object k;
    k["public_key"] = to_hex(pub);
    k["addresses"] = addresses(EcdsaOrEd25519::Curve::kEd25519, pub);
    ed.push_back(std::move(k));
  }
  out["ed25519"] = std::move(ed);

  json::array keccak, eip191, rlp, base58, base58check, create, create2;
  for (std::size_t i = 0; i < count * 4; ++i) {
    const Bytes data = random_bytes(rng);
    keccak.push_back(json::object{{"input", to_hex(data)}, {"hash", to_hex(keccak256(data))}});
    const Bytes message = random_bytes(rng);
    eip191.push_back(json::object{{"message", to_hex(message)}, {"hash", to_hex(eip191_message_hash(message))}});
    const RlpItem item = random_rlp(rng, 0);
    rlp.push_back(json::object{{"item", rlp_json(item)}, {"encoded", to_hex(rlp_encode(item))}});
    const Bytes b58 = random_bytes(rng);
    base58.push_back(json::object{{"bytes", to_hex(b58)}, {"text", base58_encode(b58)}});
    base58check.push_back(json::object{{"payload", to_hex(b58)}, {"text", base58check_encode(b58)}});

    EvmAddress sender{};
    const Bytes s = rng.bytes(20);
    std::copy(s.begin(), s.end(), sender.begin());
    static constexpr std::uint64_t kNonces[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffffffffffffffffULL};
    const std::uint64_t nonce = rng.below(2) ? kNonces[rng.below(std::size(kNonces))] : rng.u64() >> rng.below(64);
    create.push_back(json::object{{"sender", to_hex_0x(sender)},
                                  {"nonce", std::to_string(nonce)},
                                  {"address", evm_address_lower(create_address(sender, nonce))}});
    Hash256 salt{};
    const Bytes sb = rng.bytes(32);
    std::copy(sb.begin(), sb.end(), salt.begin());
    const Bytes init_code = random_bytes(rng);
    create2.push_back(json::object{{"deployer", to_hex_0x(sender)},
                                   {"salt", to_hex_0x(salt)},
                                   {"init_code", to_hex_0x(init_code)},
                                   {"address", eip55_encode(create2_address(sender, salt, init_code))}});
  }
  out["keccak256"] = std::move(keccak);
  out["eip191"] = std::move(eip191);
  out["rlp"] = std::move(rlp);
  out["base58"] = std::move(base58);
  out["base58check"] = std::move(base58check);
  out["create"] = std::move(create);
  out["create2"] = std::move(create2);
  std::cout << json::serialize(out) << '\n';
  return 0;
}

int decode_rlp_lines() {
  json::array out;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto bytes = from_hex(line);
    if (!bytes) {
      out.push_back(json::object{{"error", "not hex"}});
      continue;
    }
    auto item = rlp_decode(*bytes);
    if (item) {
      out.push_back(json::object{{"item", rlp_json(*item)}});
    } else {
      out.push_back(json::object{{"error", item.error().message}});
    }
  }
  std::cout << json::serialize(out) << '\n';
  return 0;
}

}  // namespace
}  // namespace signerd::chains

int main(int argc, char** argv) {
  return signerd::tools::vector_tool_main(argc, argv, "chains_vectors", 16, signerd::chains::print_vectors, {{"rlp-decode", signerd::chains::decode_rlp_lines}});
}
