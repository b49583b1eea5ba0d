#pragma once
// The audit trail's records and their hash chain. Pure functions: the daemon's store uses them to append records,
// and `signerctl audit verify` uses the same definition to check a chain it read over the API, so a verifier never
// has to trust the daemon's own word about its chain.
//
// Record n's hash = hex(sha256(prev_hash || "\n" || canonical(n))), where prev_hash is record n-1's hash (the
// genesis hash, 64 zeros, for the first record) and canonical(n) is the compact JSON array
//   [seq, time_ms, principal_id, token_id|null, credential_id|null, method, path, body_sha256, outcome,
//    [affected_id, ...]]
// with strings JSON-escaped as boost::json serialises them. Any change to a field, to the order, or a deleted or
// inserted record breaks every later link.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signerd {

struct AuditEntry {
  std::int64_t time_ms = 0;                    // Unix epoch milliseconds
  std::string principal_id;                    // "us-…", or "os-uid-<uid>" for a trusted local peer
  std::optional<std::string> token_id;         // "to-…" of the bearer token, when one was used
  std::optional<std::string> credential_id;    // credId that signed the user action, when there was one
  std::string method;                          // "POST", "PUT", "DELETE"
  std::string path;                            // without the query
  std::string body_sha256;                     // hex sha-256 of the request body as received
  std::string outcome;                         // "ok", or "error <http status>: <message>"
  std::vector<std::string> affected_ids;       // ids the request created or changed
};

struct AuditRecord {
  std::int64_t seq = 0;                        // 1, 2, 3, … with no gaps
  AuditEntry entry;
  std::string prev_hash;
  std::string hash;
};

inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The hash record `seq` with `entry` gets when it follows a record whose hash is `prev_hash`.
std::string audit_record_hash(std::string_view prev_hash, std::int64_t seq, const AuditEntry& entry);

// Checks records given oldest first, starting at seq 1 with the genesis hash. nullopt when every link holds; else
// the first broken record's seq and what is wrong with it.
struct AuditBreak {
  std::int64_t seq = 0;
  std::string reason;
};
std::optional<AuditBreak> verify_audit_chain(const std::vector<AuditRecord>& records_oldest_first);

}  // namespace signerd
