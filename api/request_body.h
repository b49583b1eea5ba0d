#pragma once
// Strict reading of a JSON request body: every field is checked for its type, required fields are named when
// missing, and fields the route does not know are refused by name. Internal to api/.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace signerd::api {

// Parses `body` as a JSON object. An empty body counts as {} when `empty_ok`.
Result<boost::json::object> parse_object(std::string_view body, bool empty_ok = false);

class BodyFields {
 public:
  explicit BodyFields(const boost::json::object& object) : object_(object) {}

  Result<std::string> required_string(std::string_view name) const;
  Result<std::optional<std::string>> optional_string(std::string_view name) const;
  // A string that may also be JSON null ("name": null clears a name).
  Result<std::optional<std::string>> nullable_string(std::string_view name, bool& present) const;
  Result<std::optional<bool>> optional_bool(std::string_view name) const;
  bool has(std::string_view name) const { return object_.contains(name); }

  // kInvalidArgument naming the first field not in `known`.
  Result<void> only(std::initializer_list<std::string_view> known) const;

 private:
  const boost::json::object& object_;
};

// A string field, when present, must be 1 to `max` characters (kInvalidArgument naming the field).
Result<std::optional<std::string>> bounded(Result<std::optional<std::string>> v, std::string_view field,
                                           std::size_t max);

// "tags": absent (nullopt), or an array of at most 50 strings of 1 to 256 characters (kInvalidArgument otherwise).
Result<std::optional<std::vector<std::string>>> decode_tags(const boost::json::object& obj);

// A time as the API shows it (ISO 8601, UTC, milliseconds).
std::string iso(std::int64_t ms);

// Query string parameters (percent-decoded).
struct Query {
  std::vector<std::pair<std::string, std::string>> params;
  std::optional<std::string> get(std::string_view name) const;
};

// ?limit&paginationToken: the page size (default_size when absent; 1..max_size) and the cursor a previous page's
// nextPageToken carries (base64url of a row sequence).
struct PageParams {
  std::optional<std::int64_t> before;
  int limit = 0;
};
Result<PageParams> page_params(const Query& q, unsigned default_size, unsigned max_size);
std::optional<Query> parse_query(std::string_view query);
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace signerd::api
