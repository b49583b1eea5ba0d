#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <vector>

#include "common/hex.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/time_format.h"

namespace signerd {
namespace {

TEST(Hex, RoundTripsAndAcceptsPrefixAndUppercase) {
  const Bytes bytes{0x00, 0x0f, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes), "000fabff");
  EXPECT_EQ(to_hex_0x(bytes), "0x000fabff");
  EXPECT_EQ(from_hex("0x000FABff"), bytes);
  EXPECT_EQ(from_hex("000fabff"), bytes);
  EXPECT_EQ(from_hex(""), Bytes{});
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("0xzz"));
  EXPECT_FALSE(from_hex("0x0g"));
  EXPECT_FALSE(from_hex(" 00"));
}

TEST(Base64Url, MatchesRfc4648Vectors) {
  // RFC 4648 §10 vectors, base64url alphabet, no padding.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64url_encode(as_bytes(plain)), encoded);
    const auto decoded = base64url_decode(encoded);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), plain);
  }
  EXPECT_EQ(base64url_encode(Bytes{0xfb, 0xff}), "-_8");
  EXPECT_FALSE(base64url_decode("a"));
  EXPECT_FALSE(base64url_decode("ab+c"));
  EXPECT_FALSE(base64url_decode("Zh"));  // non-zero trailing bits
}

TEST(EntityIds, HaveDfnsShapeAndAreDistinct) {
  const std::regex shape("^key-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = make_entity_id("key");
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
    EXPECT_TRUE(is_entity_id(id, "key"));
    EXPECT_FALSE(is_entity_id(id, "sig"));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(EntityIds, OrderedIdsHaveTheShapeAndSortByCreationTime) {
  const std::regex shape("^sig-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{16}$");
  std::set<std::string> seen;
  std::vector<std::string> firsts;  // the first id made in each of several milliseconds
  for (int ms = 0; ms < 5; ++ms) {
    const auto start = std::chrono::system_clock::now();
    firsts.push_back(make_ordered_entity_id("sig"));
    for (int i = 0; i < 200; ++i) {
      const auto id = make_ordered_entity_id("sig");
      EXPECT_TRUE(std::regex_match(id, shape)) << id;
      EXPECT_TRUE(is_entity_id(id, "sig"));
      seen.insert(id);
    }
    while (std::chrono::system_clock::now() - start < std::chrono::milliseconds(2)) {
    }
  }
  EXPECT_EQ(seen.size(), 1000u) << "ids made in the same millisecond must still differ";
  for (std::size_t i = 1; i < firsts.size(); ++i) {
    EXPECT_LT(firsts[i - 1], firsts[i]) << "an id made 2 ms later must sort after";
  }
  // The time part is milliseconds since 1970 in base 36 (the first 9 symbols, dashes removed).
  const auto id = make_ordered_entity_id("sig");
  const std::string time_part = id.substr(4, 5) + id.substr(10, 4);
  const auto ms = std::stoull(time_part, nullptr, 36);
  const auto now_ms = static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  EXPECT_LE(ms, now_ms);
  EXPECT_GT(ms + 1000, now_ms);
}

TEST(EntityIds, RejectsMalformed) {
  EXPECT_FALSE(is_entity_id("key-", "key"));
  EXPECT_FALSE(is_entity_id("key-abcde-abcde-ABCDEFGHIJKLMNOP", "key"));
  EXPECT_FALSE(is_entity_id("key-abcde-abcde-abc", "key"));
  EXPECT_FALSE(is_entity_id("key-abcde_abcde-abcdefghijklmnop", "key"));
  EXPECT_TRUE(is_entity_id("key-abcde-abcde-abcdefghijklmn", "key"));
}

TEST(Time, FormatsIso8601WithMillis) {
  EXPECT_EQ(format_iso8601(from_unix_millis(1681504888715)), "2023-04-14T20:41:28.715Z");
  EXPECT_EQ(format_iso8601(from_unix_millis(0)), "1970-01-01T00:00:00.000Z");
}

TEST(Secret, ComparesInConstantTimeAndWipes) {
  EXPECT_TRUE(secret_equals("abc", "abc"));
  EXPECT_FALSE(secret_equals("abc", "abd"));
  EXPECT_FALSE(secret_equals("abc", "abcd"));
  SecretString s(std::string("hunter2"));
  EXPECT_EQ(s.view(), "hunter2");
  SecretString moved(std::move(s));
  EXPECT_TRUE(s.empty());  // NOLINT(bugprone-use-after-move): the move wipes the source by contract
  EXPECT_EQ(moved.view(), "hunter2");
  moved.wipe();
  EXPECT_TRUE(moved.empty());
}

TEST(Log, QuotedValuesCannotEndTheirFieldOrStartALine) {
  EXPECT_EQ(log_quoted("plain value"), "plain value");
  EXPECT_EQ(log_quoted("a\"b"), "a\\\"b");                       // a"b -> a\"b
  EXPECT_EQ(log_quoted("back\\slash"), "back\\\\slash");        // one backslash -> two
  EXPECT_EQ(log_quoted("line\nstatus=200 forged"), "line\\nstatus=200 forged");
  EXPECT_EQ(log_quoted(std::string("nul\0\r\x7f", 6)), "nul\\x00\\x0d\\x7f");
  const std::string escaped = log_quoted("\"\n\x01\\");
  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(escaped.find('\x01'), std::string::npos);
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '"') {
      EXPECT_TRUE(i > 0 && escaped[i - 1] == '\\') << escaped;
    }
  }
  EXPECT_EQ(log_quoted(std::string(300, 'x'), 10), std::string(10, 'x') + "...");
  EXPECT_EQ(log_quoted(std::string(10, 'x'), 10), std::string(10, 'x'));
}

TEST(Secret, FileModesAreCheckedAndTheMessageNamesTheModeToUse) {
  char dir_template[] = "/tmp/signerd-secret-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir(dir_template);
  const auto path = dir / "pin";
  std::ofstream(path) << "1234\n";
  auto with_mode = [&](std::filesystem::perms mode, bool allow_group) {
    std::filesystem::permissions(path, mode);
    return read_secret_file(path, allow_group);
  };
  using P = std::filesystem::perms;
  auto owner_only = with_mode(P::owner_read | P::owner_write, false);
  ASSERT_TRUE(owner_only) << owner_only.error().message;
  EXPECT_EQ(owner_only->view(), "1234");  // the trailing newline is dropped

  EXPECT_TRUE(with_mode(P::owner_read | P::owner_write | P::group_read, true));
  auto group_refused = with_mode(P::owner_read | P::owner_write | P::group_read, false);
  ASSERT_FALSE(group_refused);
  EXPECT_NE(group_refused.error().message.find("chmod it to 0600"), std::string::npos) << group_refused.error().message;
  EXPECT_EQ(group_refused.error().message.find("0640"), std::string::npos)
      << "0640 is refused here, so the message must not suggest it: " << group_refused.error().message;

  auto other_refused = with_mode(P::owner_read | P::owner_write | P::others_read, true);
  ASSERT_FALSE(other_refused);
  EXPECT_NE(other_refused.error().message.find("0600 or 0640"), std::string::npos) << other_refused.error().message;
  EXPECT_EQ(other_refused.error().message.find("1234"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace signerd

#include "common/metrics.h"

namespace signerd::metrics {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistogramsInPrometheusTextFormat) {
  Registry r;
  r.describe("x_requests_total", Registry::Type::kCounter, "Requests.");
  r.add("x_requests_total", {{"route", "/keys"}, {"status", "200"}});
  r.add("x_requests_total", {{"route", "/keys"}, {"status", "200"}}, 2);
  r.set("x_sessions", {}, 3);
  r.describe("x_latency_seconds", Registry::Type::kHistogram, "Latency.", {0.001, 0.01});
  r.observe("x_latency_seconds", {{"op", "sign"}}, 0.0005);
  r.observe("x_latency_seconds", {{"op", "sign"}}, 0.005);
  r.observe("x_latency_seconds", {{"op", "sign"}}, 5);
  r.add_collector([](Registry& reg) { reg.set("x_collected", {{"k", "a\"b"}}, 7); });
  const std::string text = r.render();
  EXPECT_NE(text.find("# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\n"
                      "x_requests_total{route=\"/keys\",status=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE x_sessions gauge\nx_sessions 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_latency_seconds_bucket{op=\"sign\",le=\"0.001\"} 1\n"
                      "x_latency_seconds_bucket{op=\"sign\",le=\"0.01\"} 2\n"
                      "x_latency_seconds_bucket{op=\"sign\",le=\"+Inf\"} 3\n"
                      "x_latency_seconds_sum{op=\"sign\"} 5.0055\n"
                      "x_latency_seconds_count{op=\"sign\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("x_collected{k=\"a\\\"b\"} 7\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace signerd::metrics
