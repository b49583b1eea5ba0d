#include "tests/support/daemon_fixture.h"

#include <csignal>
#include <fstream>
#include <regex>

namespace signerd::testing {

std::map<std::string, std::set<std::string>> documented_routes(const std::string& openapi_path) {
  std::ifstream in(openapi_path);
  std::map<std::string, std::set<std::string>> documented;
  std::string line, current;
  bool in_paths = false;
  const std::regex path_line("^  (/[^:]*):\\s*$"), method_line("^    (get|put|post|delete|patch):\\s*$");
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.rfind("paths:", 0) == 0) {
      in_paths = true;
      continue;
    }
    if (in_paths && !line.empty() && line[0] != ' ') break;
    if (!in_paths) continue;
    if (std::regex_match(line, m, path_line)) {
      current = m[1];
    } else if (std::regex_match(line, m, method_line)) {
      documented[current].insert(m[1]);
    }
  }
  return documented;
}

std::string str(const boost::json::value& v, std::string_view key) {
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_string()) return {};
  return std::string(v.at(key).as_string());
}

std::string error_message(const HttpReply& r) {
  const auto v = r.json();
  if (!v.is_object()) return {};
  // The smart-account routes' envelope {status, message, data} carries its error in message.
  if (r.status >= 400 && v.as_object().contains("status") && v.as_object().contains("message")) {
    return str(v, "message");
  }
  if (!v.as_object().contains("error")) return {};
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
