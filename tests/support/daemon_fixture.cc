#include "tests/support/daemon_fixture.h"

#include <csignal>

namespace signerd::testing {

std::string str(const boost::json::value& v, std::string_view key) {
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_string()) return {};
  return std::string(v.at(key).as_string());
}

std::string error_message(const HttpReply& r) {
  const auto v = r.json();
  if (!v.is_object() || !v.as_object().contains("error")) return {};
  return str(v.at("error"), "message");
}

void expect_error_body(const HttpReply& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  const auto v = r.json();
  ASSERT_TRUE(v.is_object()) << r.body;
  const auto& e = v.at("error");
  EXPECT_FALSE(str(e, "id").empty());
  EXPECT_EQ(e.at("status").to_number<int>(), status);
  EXPECT_FALSE(str(e, "message").empty());
  EXPECT_TRUE(e.at("details").is_object());
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
}

void DaemonFixture::start(DaemonOptions options) {
  daemon_ = std::make_unique<DaemonProcess>(std::move(options));
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
}

void DaemonFixture::TearDown() {
  if (daemon_ && daemon_->running()) {
    EXPECT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  }
}

}  // namespace signerd::testing
