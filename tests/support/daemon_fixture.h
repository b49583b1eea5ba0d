#pragma once
// What end-to-end tests share: a fixture that starts the built daemon and stops it cleanly (SIGTERM must exit 0),
// and checks of Dfns's JSON and error bodies.
#include <gtest/gtest.h>

#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "tests/support/daemon_process.h"

namespace signerd::testing {

// The string member `key` of `v`; empty when `v` is not an object or the member is absent or not a string.
std::string str(const boost::json::value& v, std::string_view key);

// error.message of a Dfns error body, or message of a smart-account error envelope; empty when the body is neither.
std::string error_message(const HttpReply& r);

// Checks the Dfns error body {"error":{"id","status","message","details"}} with status = the HTTP status, served as
// application/json.
void expect_error_body(const HttpReply& r, int status);

// The routes api/openapi.yaml documents: path template -> lowercase methods.
std::map<std::string, std::set<std::string>> documented_routes(const std::string& openapi_path);

class DaemonFixture : public ::testing::Test {
 protected:
  // Starts a daemon with `options`; the test fails when it does not come up.
  void start(DaemonOptions options = {});
  // A daemon still running must stop cleanly on SIGTERM.
  void TearDown() override;

  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace signerd::testing
