// smart/: the counterfactual address formula (the published vector and the canonical deployments), token amounts as
// decimal strings, the app request signature (good, bad, stale, replayed), RFC 3339, and network resolution.
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <map>
#include <set>

#include "chains/evm.h"
#include "smart/account_address.h"
#include "smart/amount.h"
#include "smart/app_signature.h"
#include "smart/network.h"

namespace signerd::smart {
namespace {

chains::EvmAddress addr(std::string_view text) {
  auto a = chains::parse_evm_address(text);
  EXPECT_TRUE(a) << text;
  return a ? *a : chains::EvmAddress{};
}

// --- addresses

TEST(AccountAddress, ThePublishedV08Vector) {
  const auto& d = canonical_deployment(AccountVersion::kV0_8);
  const auto a = counterfactual_address(d.factory, d.implementation, canonical_proxy_creation_code(AccountVersion::kV0_8),
                                        addr("0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7"));
  EXPECT_EQ(chains::eip55_encode(a), "0xc6F20ce7BEf5a7A047640AFD43c5E74E3722dF66");
}

TEST(AccountAddress, TheV08ProxyCreationCodeIs680Bytes) {
  EXPECT_EQ(canonical_proxy_creation_code(AccountVersion::kV0_8).size(), 680u);
  for (auto v : {AccountVersion::kV0_6, AccountVersion::kV0_7, AccountVersion::kV0_8}) {
    const auto p = canonical_proxy_creation_code(v);
    ASSERT_GE(p.size(), 5u) << to_string(v);
    EXPECT_EQ(to_hex(p.first(5)), "6080604052") << to_string(v);  // solc's prologue
    if (v != AccountVersion::kV0_6) {
      EXPECT_EQ(to_hex(p.last(2)), "0033") << to_string(v);  // CBOR metadata length
    }
  }
  // v0.6's ERC1967Proxy (OpenZeppelin 4) carries revert-string data after its metadata.
  const auto v06 = canonical_proxy_creation_code(AccountVersion::kV0_6);
  EXPECT_EQ(v06.size(), 1985u);
  EXPECT_EQ(std::string(v06.end() - 39, v06.end()), "Address: low-level delegate call failed");
}

TEST(AccountAddress, EachCanonicalImplementationIsTheFactorysFirstCreate) {
  for (auto v : {AccountVersion::kV0_6, AccountVersion::kV0_7, AccountVersion::kV0_8}) {
    const auto& d = canonical_deployment(v);
    EXPECT_EQ(factory_implementation(d.factory), d.implementation) << to_string(v);
  }
}

TEST(AccountAddress, InitCodeLayout) {
  const auto owner = addr("0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7");
  const auto impl = addr("0x28426d752372D68d34340bd94390950DcE3C9ec3");
  const Bytes p = {0x60, 0x80};
  const Bytes code = proxy_init_code(p, impl, owner);
  ASSERT_EQ(code.size(), 2u + 160u);
  EXPECT_EQ(to_hex(std::span(code).subspan(2, 32)), "000000000000000000000000" + to_hex(impl));
  EXPECT_EQ(to_hex(std::span(code).subspan(34, 32)), std::string(62, '0') + "40");
  EXPECT_EQ(to_hex(std::span(code).subspan(66, 32)), std::string(62, '0') + "24");
  EXPECT_EQ(to_hex(std::span(code).subspan(98, 36)), "c4d66de8000000000000000000000000" + to_hex(owner));
  EXPECT_EQ(to_hex(std::span(code).subspan(134)), std::string(56, '0'));
  // The salt goes in as a 32-byte word: a different salt, a different address.
  chains::Hash256 one{};
  one[31] = 1;
  EXPECT_NE(counterfactual_address(impl, impl, p, owner), counterfactual_address(impl, impl, p, owner, one));
}

TEST(AccountAddress, Versions) {
  EXPECT_EQ(parse_account_version("0.7"), AccountVersion::kV0_7);
  EXPECT_FALSE(parse_account_version("0.9"));
  EXPECT_FALSE(parse_account_version("v0.7"));
}

// --- amounts

TEST(Amount, ParsesCanonicalUint256Strings) {
  EXPECT_EQ(*parse_amount("0"), "0");
  EXPECT_EQ(*parse_amount("1000000"), "1000000");
  EXPECT_EQ(*parse_amount(kMaxUint256), kMaxUint256);
  const std::map<std::string, std::string> bad = {
      {"", "must not be empty"},
      {"-1", "must not be negative"},
      {"+1", "without a sign"},
      {"1.5", "no fraction"},
      {"1e6", "digits 0-9 only"},
      {" 1", "digits 0-9 only"},
      {"0x10", "digits 0-9 only"},
      {"007", "leading zeros"},
      {"115792089237316195423570985008687907853269984665640564039457584007913129639936", "2^256 - 1"},
      {"1000000000000000000000000000000000000000000000000000000000000000000000000000000", "2^256 - 1"},
  };
  for (const auto& [text, fragment] : bad) {
    auto r = parse_amount(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << text << ": " << r.error().message;
  }
}

TEST(Amount, AddsSubtractsAndComparesWithoutFloatingPoint) {
  EXPECT_EQ(*add_amounts("0", "0"), "0");
  EXPECT_EQ(*add_amounts("999999", "1"), "1000000");
  EXPECT_EQ(*add_amounts("1", "99999999999999999999999999"), "100000000000000000000000000");
  EXPECT_EQ(*add_amounts("18446744073709551615", "18446744073709551615"), "36893488147419103230");
  EXPECT_EQ(*add_amounts(kMaxUint256, "0"), kMaxUint256);
  EXPECT_FALSE(add_amounts(kMaxUint256, "1"));
  EXPECT_EQ(*subtract_amounts("1000000", "1"), "999999");
  EXPECT_EQ(*subtract_amounts("5", "5"), "0");
  EXPECT_EQ(*subtract_amounts(kMaxUint256, kMaxUint256), "0");
  EXPECT_FALSE(subtract_amounts("1", "2"));
  EXPECT_LT(compare_amounts("999", "1000"), 0);
  EXPECT_GT(compare_amounts("1000", "999"), 0);
  EXPECT_EQ(compare_amounts("42", "42"), 0);
  EXPECT_LT(compare_amounts("41", "42"), 0);
}

// --- RFC 3339

TEST(Rfc3339, ParsesUtcOffsetsAndFractions) {
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T00:00:01.5Z"), 1'500'000'000);
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(*parse_rfc3339_ns("1969-12-31T23:00:00-01:00"), 0);
  EXPECT_EQ(*parse_rfc3339_ns("2024-02-29T12:00:00.123456789z"), 1709208000'123456789);
  for (const char* bad : {"", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00", "2024-01-01 00:00Z", "2024-01-01T24:00:00Z",
                          "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00Zjunk",
                          "1704067200"}) {
    EXPECT_FALSE(parse_rfc3339_ns(bad)) << bad;
  }
}

TEST(Rfc3339, FormatsWithNanoseconds) {
  EXPECT_EQ(format_rfc3339_ns(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(format_rfc3339_ns(1709208000'123456789), "2024-02-29T12:00:00.123456789Z");
  EXPECT_EQ(*parse_rfc3339_ns(format_rfc3339_ns(1709208000'000000001)), 1709208000'000000001);
}

// --- the app request signature

class AppSignatureTest : public ::testing::Test {
 protected:
  static constexpr std::int64_t kNow = 1'735'787'045'000'000'000;  // 2025-01-02T03:04:05Z
  const std::string secret_ = std::string(32, 'k');
  int mac_calls_ = 0;

  Mac mac() {
    return [this](std::string_view app_id, std::span<const std::uint8_t> message) -> Result<Bytes> {
      ++mac_calls_;
      if (app_id != "app-1") return fail(ErrorCode::kNotFound, "no app");
      Bytes out(32);
      unsigned int size = 0;
      HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), message.data(), message.size(),
           out.data(), &size);
      return out;
    };
  }
  std::string sign(std::string_view ts, std::string_view method, std::string_view target, std::string_view body) {
    const std::string m = signing_string(ts, method, target, body);
    Bytes out(32);
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), as_bytes(m).data(), m.size(), out.data(),
         &size);
    return to_hex(out);
  }
  static void expect_401(const Result<void>& r, std::string_view fragment) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  }
};

TEST_F(AppSignatureTest, SigningStringIsTimestampMethodTargetBody) {
  EXPECT_EQ(signing_string("T", "POST", "/p?q=1", "{\"a\":1}"), "T\nPOST\n/p?q=1\n{\"a\":1}");
  EXPECT_EQ(signing_string("T", "GET", "/p", ""), "T\nGET\n/p\n");
}

TEST_F(AppSignatureTest, AcceptsAGoodSignatureOnceThenRefusesTheReplay) {
  AppSignatureVerifier v;
  const std::string ts = "2025-01-02T03:04:05Z", body = R"({"owner":{"id":"0x1","provider":"wallet"}})";
  const std::string sig = sign(ts, "POST", "/api/v1/smart-account", body);
  EXPECT_TRUE(v.verify({"app-1", ts, sig, "POST", "/api/v1/smart-account", body}, kNow, mac()));
  expect_401(v.verify({"app-1", ts, sig, "POST", "/api/v1/smart-account", body}, kNow + 1, mac()), "replay");
  // Upper-case hex is the same signature: still a replay.
  std::string upper = sig;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  expect_401(v.verify({"app-1", ts, upper, "POST", "/api/v1/smart-account", body}, kNow + 2, mac()), "replay");
  // Another request at the same time is fine.
  const std::string other = sign(ts, "GET", "/api/v1/smart-account", "");
  EXPECT_TRUE(v.verify({"app-1", ts, other, "GET", "/api/v1/smart-account", ""}, kNow, mac()));
}

TEST_F(AppSignatureTest, DurableMemoryRefusesAReplayFromBeforeARestartAndAFailedWriteAllowsARetry) {
  const std::string ts = "2025-01-02T03:04:05Z", body = "{}";
  const std::string sig = sign(ts, "POST", "/api/v1/smart-account", body);
  const AppRequest request{"app-1", ts, sig, "POST", "/api/v1/smart-account", body};
  std::set<std::string> durable;
  std::int64_t forget_after = 0;
  bool broken = false;
  Remember remember = [&](std::string_view app, std::string_view s, std::int64_t after) -> Result<bool> {
    if (broken) return fail(ErrorCode::kUnavailable, "store down");
    forget_after = after;
    return durable.insert(std::string(app) + "/" + std::string(s)).second;
  };
  {
    AppSignatureVerifier before_restart;
    EXPECT_TRUE(before_restart.verify(request, kNow, mac(), remember));
    EXPECT_EQ(forget_after, *parse_rfc3339_ns(ts) + 300'000'000'000LL);
  }
  AppSignatureVerifier after_restart;  // empty memory; the durable record remains
  expect_401(after_restart.verify(request, kNow + 1, mac(), remember), "replay");

  const std::string sig2 = sign(ts, "GET", "/api/v1/smart-account", "");
  const AppRequest second{"app-1", ts, sig2, "GET", "/api/v1/smart-account", ""};
  broken = true;
  auto failed = after_restart.verify(second, kNow, mac(), remember);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  broken = false;
  EXPECT_TRUE(after_restart.verify(second, kNow, mac(), remember)) << "not remembered anywhere: the retry is fine";
  expect_401(after_restart.verify(second, kNow, mac(), remember), "replay");
}

TEST_F(AppSignatureTest, RefusesWhatDoesNotVerify) {
  AppSignatureVerifier v;
  const std::string ts = "2025-01-02T03:04:05Z", body = R"({"owner":1})";
  const std::string sig = sign(ts, "POST", "/api/v1/smart-account", body);
  expect_401(v.verify({"app-1", ts, sig, "POST", "/api/v1/smart-account", R"({"owner":2})"}, kNow, mac()),
             "does not verify");  // body altered after signing
  expect_401(v.verify({"app-1", ts, sig, "POST", "/api/v1/smart-account?x=1", body}, kNow, mac()), "does not verify");
  expect_401(v.verify({"app-1", ts, sig, "PUT", "/api/v1/smart-account", body}, kNow, mac()), "does not verify");
  expect_401(v.verify({"app-1", "2025-01-02T03:04:06Z", sig, "POST", "/api/v1/smart-account", body}, kNow, mac()),
             "does not verify");
  expect_401(v.verify({"app-2", ts, sig, "POST", "/api/v1/smart-account", body}, kNow, mac()), "names no application");
  // A refused request is not remembered: the good one still passes.
  EXPECT_TRUE(v.verify({"app-1", ts, sig, "POST", "/api/v1/smart-account", body}, kNow, mac()));
}

TEST_F(AppSignatureTest, RefusesStaleAndFutureTimestampsBeforeAnyMac) {
  AppSignatureVerifier v;
  const std::string body = "{}";
  for (const char* ts : {"2025-01-02T02:59:04Z", "2025-01-02T03:09:06Z", "2024-01-02T03:04:05Z"}) {
    expect_401(v.verify({"app-1", ts, sign(ts, "POST", "/p", body), "POST", "/p", body}, kNow, mac()),
               "more than 300 s");
  }
  EXPECT_EQ(mac_calls_, 0);
  for (const char* ts : {"2025-01-02T02:59:05Z", "2025-01-02T03:09:05Z", "2025-01-02T04:04:05+01:00"}) {
    EXPECT_TRUE(v.verify({"app-1", ts, sign(ts, "POST", "/p", body), "POST", "/p", body}, kNow, mac())) << ts;
  }
}

TEST_F(AppSignatureTest, RefusesMissingAndMalformedHeaders) {
  AppSignatureVerifier v;
  const std::string ts = "2025-01-02T03:04:05Z";
  const std::string sig = sign(ts, "GET", "/p", "");
  expect_401(v.verify({"", ts, sig, "GET", "/p", ""}, kNow, mac()), "X-APP-ID header is required");
  expect_401(v.verify({"app-1", "", sig, "GET", "/p", ""}, kNow, mac()), "X-TIMESTAMP header is required");
  expect_401(v.verify({"app-1", ts, "", "GET", "/p", ""}, kNow, mac()), "X-SIGNATURE header is required");
  expect_401(v.verify({"app-1", "yesterday", sig, "GET", "/p", ""}, kNow, mac()), "RFC 3339");
  expect_401(v.verify({"app-1", ts, sig.substr(2), "GET", "/p", ""}, kNow, mac()), "64 hex digits");
  expect_401(v.verify({"app-1", ts, "0x" + sig.substr(2), "GET", "/p", ""}, kNow, mac()), "64 hex digits");
  expect_401(v.verify({"app-1", ts, std::string(64, 'g'), "GET", "/p", ""}, kNow, mac()), "64 hex digits");
}

TEST_F(AppSignatureTest, ForgetsSignaturesOnceTheirTimestampLeftTheWindowAndBoundsMemory) {
  AppSignatureVerifier v(std::chrono::seconds(300), 2);
  const std::string body = "{}";
  auto req = [&](const std::string& ts) {
    return std::pair{ts, sign(ts, "POST", "/p", body)};
  };
  const auto a = req("2025-01-02T03:04:05Z"), b = req("2025-01-02T03:04:06Z"), c = req("2025-01-02T03:04:07Z");
  EXPECT_TRUE(v.verify({"app-1", a.first, a.second, "POST", "/p", body}, kNow, mac()));
  EXPECT_TRUE(v.verify({"app-1", b.first, b.second, "POST", "/p", body}, kNow, mac()));
  auto full = v.verify({"app-1", c.first, c.second, "POST", "/p", body}, kNow, mac());
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  // 300 s after a's timestamp a is forgotten (the timestamp check refuses it from then on), so c fits.
  const std::int64_t later = kNow + 300'000'000'001;
  EXPECT_TRUE(v.verify({"app-1", c.first, c.second, "POST", "/p", body}, later, mac()));
  expect_401(v.verify({"app-1", a.first, a.second, "POST", "/p", body}, later, mac()), "more than 300 s");
}

// --- networks

TEST(Networks, CanonicalDefaultsAndTheFactorysImplementation) {
  config::SmartAccountsConfig c;
  c.networks.push_back({.name = "A", .chain_id = 1, .version = "0.8"});
  c.networks.push_back({.name = "B", .chain_id = 2, .version = "0.7",
                        .factory = "0x5fbdb2315678afecb367f032d93f642f64180aa3", .activation_fee = "12"});
  auto n = resolve_networks(c);
  ASSERT_TRUE(n) << n.error().message;
  ASSERT_EQ(n->size(), 2u);
  const auto& d = canonical_deployment(AccountVersion::kV0_8);
  EXPECT_EQ((*n)[0].factory, d.factory);
  EXPECT_EQ((*n)[0].implementation, d.implementation);
  EXPECT_EQ((*n)[0].entry_point, d.entry_point);
  EXPECT_EQ((*n)[0].activation_fee, "0");
  EXPECT_EQ(chains::eip55_encode((*n)[0].account_address(addr("0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7"))),
            "0xc6F20ce7BEf5a7A047640AFD43c5E74E3722dF66");
  EXPECT_EQ((*n)[1].implementation, chains::create_address(addr("0x5fbdb2315678afecb367f032d93f642f64180aa3"), 1));
  EXPECT_EQ((*n)[1].entry_point, canonical_deployment(AccountVersion::kV0_7).entry_point);
  EXPECT_EQ((*n)[1].activation_fee, "12");
}

TEST(Networks, RefusesABadChecksumAndAnOversizedFee) {
  config::SmartAccountsConfig c;
  c.networks.push_back({.name = "A", .chain_id = 1, .version = "0.8",
                        .factory = "0x13e9ed32155810FDbd067D4522C492D6f68E5944"});
  auto n = resolve_networks(c);
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("factory"), std::string::npos) << n.error().message;
  EXPECT_NE(n.error().message.find("EIP-55"), std::string::npos) << n.error().message;
  c.networks[0].factory.clear();
  c.networks[0].activation_fee = std::string(80, '9');
  n = resolve_networks(c);
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("activation_fee"), std::string::npos) << n.error().message;
}

}  // namespace
}  // namespace signerd::smart
