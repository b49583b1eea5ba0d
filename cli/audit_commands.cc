#include "cli/audit_commands.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include "cli/exit_codes.h"
#include "common/audit_chain.h"

namespace signerd::cli {
namespace {

namespace json = boost::json;

constexpr unsigned kVerifyPageSize = 500;

// A record as GET /audit serves it, or why it cannot be one.
struct ParsedRecord {
  AuditRecord record;
  std::optional<std::string> malformed;
};

std::optional<std::int64_t> integer(const json::value& v) {
  boost::system::error_code ec;
  const auto n = v.to_number<std::int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

// nullopt when `record` has no integer seq: then it cannot even be placed in the chain.
std::optional<ParsedRecord> parse_record(const json::value& item) {
  const auto* seq = find(item, "seq");
  const auto seq_value = seq ? integer(*seq) : std::nullopt;
  if (!seq_value) return std::nullopt;
  ParsedRecord out;
  out.record.seq = *seq_value;
  auto& e = out.record.entry;
  auto bad = [&](std::string_view name, std::string_view what) {
    if (!out.malformed) out.malformed = "field '" + std::string(name) + "' is missing or not " + std::string(what);
  };
  auto string_field = [&](std::string_view name, std::string& target) {
    const auto* v = find(item, name);
    if (v && v->is_string()) {
      target = std::string(v->as_string());
    } else {
      bad(name, "a string");
    }
  };
  auto optional_string_field = [&](std::string_view name, std::optional<std::string>& target) {
    const auto* v = find(item, name);
    if (v && v->is_null()) {
      target.reset();
    } else if (v && v->is_string()) {
      target = std::string(v->as_string());
    } else {
      bad(name, "a string or null");
    }
  };
  if (const auto* t = find(item, "timeMs"); t && integer(*t)) {
    e.time_ms = *integer(*t);
  } else {
    bad("timeMs", "an integer");
  }
  string_field("principalId", e.principal_id);
  optional_string_field("tokenId", e.token_id);
  optional_string_field("credentialId", e.credential_id);
  string_field("method", e.method);
  string_field("path", e.path);
  string_field("bodySha256", e.body_sha256);
  string_field("outcome", e.outcome);
  if (const auto* ids = find(item, "affectedIds"); ids && ids->is_array()) {
    for (const auto& id : ids->as_array()) {
      if (!id.is_string()) {
        bad("affectedIds", "an array of strings");
        break;
      }
      e.affected_ids.emplace_back(id.as_string());
    }
  } else {
    bad("affectedIds", "an array of strings");
  }
  string_field("prevHash", out.record.prev_hash);
  string_field("hash", out.record.hash);
  return out;
}

std::string audit_target(std::optional<unsigned> limit, const std::optional<std::string>& page_token) {
  std::string target = "/audit";
  char sep = '?';
  if (limit) {
    target += sep + std::string("limit=") + std::to_string(*limit);
    sep = '&';
  }
  if (page_token) target += sep + std::string("paginationToken=") + percent_encode(*page_token);
  return target;
}

int print_verdict(const DaemonContext& ctx, std::size_t count, const std::optional<AuditBreak>& broken,
                  const std::string& head) {
  if (ctx.json) {
    json::object out{{"ok", !broken}, {"records", count}};
    if (broken) {
      out["brokenAt"] = broken->seq;
      out["reason"] = broken->reason;
    } else {
      out["head"] = head;
    }
    print_out(json::serialize(out));
  } else if (broken) {
    std::printf("audit chain BROKEN at record %lld: %s\n", static_cast<long long>(broken->seq), broken->reason.c_str());
  } else {
    std::printf("audit chain OK: %zu records, head %s\n", count, head.c_str());
  }
  return broken ? kExitAuditBroken : kExitOk;
}

}  // namespace

int run_audit_tail(const DaemonContext& ctx, unsigned lines) {
  return exchange(ctx, "GET", audit_target(lines, std::nullopt), std::nullopt, [](const json::value& reply) {
    const auto* items = find(reply, "items");
    std::vector<std::vector<std::string>> rows;
    if (items && items->is_array()) {
      for (const auto& r : items->as_array()) {
        std::string affected;
        if (const auto* ids = find(r, "affectedIds"); ids && ids->is_array()) {
          for (const auto& id : ids->as_array()) affected += (affected.empty() ? "" : ",") + scalar_text(id);
        }
        rows.push_back({field(r, "seq"), field(r, "date"), field(r, "principalId"), field(r, "method"),
                        field(r, "path"), affected.empty() ? "-" : affected, field(r, "outcome")});
      }
    }
    std::reverse(rows.begin(), rows.end());  // the daemon serves newest first
    print_table({"SEQ", "DATE", "PRINCIPAL", "METHOD", "PATH", "AFFECTED", "OUTCOME"}, rows);
  });
}

int run_audit_verify(const DaemonContext& ctx) {
  std::vector<ParsedRecord> records;
  std::optional<unsigned> limit = kVerifyPageSize;
  std::optional<std::string> page_token;
  std::set<std::string> seen_tokens;
  for (;;) {
    const std::string target = audit_target(limit, page_token);
    auto response = send(ctx, "GET", target);
    if (!response) return response.error();
    if (response->status == 400 && limit && !page_token) {
      limit.reset();  // a daemon whose max_page_size is below ours: its own page size then
      continue;
    }
    if (response->status != 200) return http_failure(ctx, *response, target);
    const auto page = parse_json(response->body);
    const auto* items = page ? find(*page, "items") : nullptr;
    if (items == nullptr || !items->is_array()) {
      print_err("unexpected reply to GET " + target + ": no items array");
      return kExitFailed;
    }
    for (const auto& item : items->as_array()) {
      auto parsed = parse_record(item);
      if (!parsed) {
        print_err("unexpected reply to GET " + target + ": a record without an integer seq");
        return kExitFailed;
      }
      records.push_back(std::move(*parsed));
    }
    const auto* next = find(*page, "nextPageToken");
    if (!next || !next->is_string() || next->as_string().empty()) break;
    page_token = std::string(next->as_string());
    if (!seen_tokens.insert(*page_token).second) {
      print_err("the daemon returned the same nextPageToken twice; stopping");
      return kExitFailed;
    }
  }
  std::stable_sort(records.begin(), records.end(),
                   [](const ParsedRecord& a, const ParsedRecord& b) { return a.record.seq < b.record.seq; });

  // The chain up to the first record that could not be read, then that record.
  std::vector<AuditRecord> chain;
  const ParsedRecord* malformed = nullptr;
  for (const auto& r : records) {
    if (r.malformed) {
      malformed = &r;
      break;
    }
    chain.push_back(r.record);
  }
  auto broken = verify_audit_chain(chain);
  if (!broken && malformed) broken = AuditBreak{malformed->record.seq, *malformed->malformed};
  const std::string head = chain.empty() ? std::string(kAuditGenesisHash) : chain.back().hash;
  return print_verdict(ctx, records.size(), broken, head);
}

}  // namespace signerd::cli
