#include "common/audit_chain.h"

#include <openssl/evp.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "common/hex.h"

namespace signerd {
namespace {

boost::json::value optional_string(const std::optional<std::string>& s) {
  return s ? boost::json::value(*s) : boost::json::value(nullptr);
}

}  // namespace

std::string audit_record_hash(std::string_view prev_hash, std::int64_t seq, const AuditEntry& e) {
  boost::json::array affected;
  for (const auto& id : e.affected_ids) affected.emplace_back(id);
  const boost::json::array canonical{seq,           e.time_ms, e.principal_id, optional_string(e.token_id),
                                     optional_string(e.credential_id), e.method, e.path, e.body_sha256,
                                     e.outcome,     std::move(affected)};
  std::string input(prev_hash);
  input += '\n';
  input += boost::json::serialize(canonical);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr);
  return to_hex(std::span<const std::uint8_t>(digest, size));
}

std::optional<AuditBreak> verify_audit_chain(const std::vector<AuditRecord>& records) {
  std::string prev(kAuditGenesisHash);
  std::int64_t expected_seq = 1;
  for (const auto& r : records) {
    if (r.seq != expected_seq) {
      return AuditBreak{expected_seq, "record " + std::to_string(expected_seq) + " is missing (found " +
                                          std::to_string(r.seq) + " in its place)"};
    }
    if (r.prev_hash != prev) {
      return AuditBreak{r.seq, "prev_hash does not match the hash of record " + std::to_string(r.seq - 1)};
    }
    if (audit_record_hash(prev, r.seq, r.entry) != r.hash) {
      return AuditBreak{r.seq, "hash does not match the record's contents (the record was altered)"};
    }
    prev = r.hash;
    ++expected_seq;
  }
  return std::nullopt;
}

}  // namespace signerd
