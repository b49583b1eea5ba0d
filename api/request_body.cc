#include "api/request_body.h"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>

#include "common/hex.h"
#include "common/time_format.h"

namespace signerd::api {

Result<boost::json::object> parse_object(std::string_view body, bool empty_ok) {
  if (body.empty()) {
    if (empty_ok) return boost::json::object{};
    return fail(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  }
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 32;
  boost::json::value v = boost::json::parse(body, ec, {}, opts);
  if (ec) return fail(ErrorCode::kInvalidArgument, "malformed JSON in request body: " + ec.message());
  if (!v.is_object()) return fail(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  return std::move(v.as_object());
}

Result<std::string> BodyFields::required_string(std::string_view name) const {
  const auto* v = object_.if_contains(name);
  if (!v) return fail(ErrorCode::kInvalidArgument, "field '" + std::string(name) + "' is required");
  if (!v->is_string()) return fail(ErrorCode::kInvalidArgument, "field '" + std::string(name) + "' must be a string");
  return std::string(v->as_string());
}

Result<std::optional<std::string>> BodyFields::optional_string(std::string_view name) const {
  const auto* v = object_.if_contains(name);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) return fail(ErrorCode::kInvalidArgument, "field '" + std::string(name) + "' must be a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::optional<std::string>> BodyFields::nullable_string(std::string_view name, bool& present) const {
  const auto* v = object_.if_contains(name);
  present = v != nullptr;
  if (!v || v->is_null()) return std::optional<std::string>{};
  if (!v->is_string()) {
    return fail(ErrorCode::kInvalidArgument, "field '" + std::string(name) + "' must be a string or null");
  }
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::optional<bool>> BodyFields::optional_bool(std::string_view name) const {
  const auto* v = object_.if_contains(name);
  if (!v) return std::optional<bool>{};
  if (!v->is_bool()) return fail(ErrorCode::kInvalidArgument, "field '" + std::string(name) + "' must be a boolean");
  return std::optional<bool>(v->as_bool());
}

Result<void> BodyFields::only(std::initializer_list<std::string_view> known) const {
  for (const auto& [k, v] : object_) {
    if (std::find(known.begin(), known.end(), std::string_view(k)) == known.end()) {
      return fail(ErrorCode::kInvalidArgument, "unknown field '" + std::string(k) + "'");
    }
  }
  return {};
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<Query> parse_query(std::string_view query) {
  Query q;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    q.params.emplace_back(std::move(*name), std::move(*value));
  }
  return q;
}

std::optional<std::string> Query::get(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Result<std::optional<std::string>> bounded(Result<std::optional<std::string>> v, std::string_view field,
                                           std::size_t max) {
  if (v && *v && (v->value().empty() || v->value().size() > max)) {
    return fail(ErrorCode::kInvalidArgument,
                "field '" + std::string(field) + "' must be 1 to " + std::to_string(max) + " characters");
  }
  return v;
}

std::string iso(std::int64_t ms) { return format_iso8601(from_unix_millis(ms)); }

Result<PageParams> page_params(const Query& q, unsigned default_size, unsigned max_size) {
  PageParams p{std::nullopt, static_cast<int>(default_size)};
  if (auto limit = q.get("limit")) {
    int v = 0;
    const auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), v);
    if (ec != std::errc{} || end != limit->data() + limit->size() || v < 1 || v > static_cast<int>(max_size)) {
      return fail(ErrorCode::kInvalidArgument, "limit must be an integer from 1 to " + std::to_string(max_size));
    }
    p.limit = v;
  }
  if (auto token = q.get("paginationToken"); token && !token->empty()) {
    auto raw = base64url_decode(*token);
    std::int64_t v = 0;
    bool ok = raw && !raw->empty() && raw->size() <= 20;
    if (ok) {
      const char* b = reinterpret_cast<const char*>(raw->data());
      const auto [end, ec] = std::from_chars(b, b + raw->size(), v);
      ok = ec == std::errc{} && end == b + raw->size() && v > 0;
    }
    if (!ok) return fail(ErrorCode::kInvalidArgument, "paginationToken is not valid");
    p.before = v;
  }
  return p;
}

namespace {
constexpr std::size_t kMaxTags = 50;
constexpr std::size_t kMaxTagBytes = 256;
}  // namespace

Result<std::optional<std::vector<std::string>>> decode_tags(const boost::json::object& obj) {
  const auto* v = obj.if_contains("tags");
  if (!v) return std::nullopt;
  if (!v->is_array() || v->as_array().size() > kMaxTags) {
    return fail(ErrorCode::kInvalidArgument,
                "field 'tags' must be an array of at most " + std::to_string(kMaxTags) + " strings");
  }
  std::vector<std::string> tags;
  for (const auto& t : v->as_array()) {
    if (!t.is_string() || t.as_string().empty() || t.as_string().size() > kMaxTagBytes) {
      return fail(ErrorCode::kInvalidArgument,
                  "field 'tags' must hold strings of 1 to " + std::to_string(kMaxTagBytes) + " characters");
    }
    tags.emplace_back(t.as_string());
  }
  return tags;
}

}  // namespace signerd::api
