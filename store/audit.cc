// The audit trail (common/audit_chain.h) in the store: appended inside the write it records, read newest first.
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "store/schema.h"
#include "store/store_impl.h"

namespace signerd::store {
namespace {

std::string ids_json(const std::vector<std::string>& ids) {
  boost::json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return boost::json::serialize(a);
}

Result<AuditRecord> read_audit_record(const Statement& row) {
  AuditRecord r;
  r.seq = row.int64(0);
  r.entry.time_ms = row.int64(1);
  r.entry.principal_id = row.text(2);
  r.entry.token_id = row.optional_text(3);
  r.entry.credential_id = row.optional_text(4);
  r.entry.method = row.text(5);
  r.entry.path = row.text(6);
  r.entry.body_sha256 = row.text(7);
  r.entry.outcome = row.text(8);
  // The ids come back exactly as they went in, even ones that are not valid UTF-8: the chain hashes them as given.
  boost::json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  const auto ids = boost::json::parse(row.text(9), ec, {}, options);
  const auto malformed = [&] {
    return fail(ErrorCode::kInternal, "store: audit record " + std::to_string(r.seq) + " has malformed affected ids");
  };
  if (ec || !ids.is_array()) return malformed();
  for (const auto& id : ids.as_array()) {
    if (!id.is_string()) return malformed();
    r.entry.affected_ids.emplace_back(id.as_string());
  }
  r.prev_hash = row.text(10);
  r.hash = row.text(11);
  return r;
}

}  // namespace

Result<std::int64_t> append_audit_in(Connection& connection, const AuditEntry& entry) {
  std::int64_t seq = 1;
  std::string prev_hash(kAuditGenesisHash);
  {
    auto head = connection.prepare(sql::kAuditHead, "append audit record");
    if (!head) return std::unexpected(std::move(head.error()));
    auto row = head->step();
    if (!row) return std::unexpected(std::move(row.error()));
    if (*row) {
      seq = head->int64(0) + 1;
      prev_hash = head->text(1);
    }
  }
  const std::string hash = audit_record_hash(prev_hash, seq, entry);
  auto insert = connection.prepare(sql::kInsertAudit, "append audit record");
  if (!insert) return std::unexpected(std::move(insert.error()));
  insert->bind_int(1, seq)
      .bind_int(2, entry.time_ms)
      .bind_text(3, entry.principal_id)
      .bind_optional_text(4, entry.token_id)
      .bind_optional_text(5, entry.credential_id)
      .bind_text(6, entry.method)
      .bind_text(7, entry.path)
      .bind_text(8, entry.body_sha256)
      .bind_text(9, entry.outcome)
      .bind_text(10, ids_json(entry.affected_ids))
      .bind_text(11, prev_hash)
      .bind_text(12, hash);
  if (auto inserted = insert->run(); !inserted) return std::unexpected(std::move(inserted.error()));
  return seq;
}

Result<void> append_audit_if(Connection& connection, const AuditEntry* audit) {
  if (audit == nullptr) return {};
  auto appended = append_audit_in(connection, *audit);
  if (!appended) return std::unexpected(std::move(appended.error()));
  return {};
}

Result<void> Store::append_audit(const AuditEntry& entry) {
  return impl_->writer.write([&](Connection& connection) -> Result<void> {
    auto appended = append_audit_in(connection, entry);
    if (!appended) return std::unexpected(std::move(appended.error()));
    return {};
  });
}

void Store::append_audit_async(AuditEntry entry, std::function<void(Result<void>)> done) {
  impl_->writer.write_async(
      [entry = std::move(entry)](Connection& connection) -> Result<void> {
        auto appended = append_audit_in(connection, entry);
        if (!appended) return std::unexpected(std::move(appended.error()));
        return {};
      },
      [done = std::move(done)](Result<void> result) {
        if (done) done(std::move(result));
      });
}

Result<Page<AuditRecord>> Store::list_audit(std::optional<std::int64_t> before, int limit) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<AuditRecord>> {
    auto select = connection.prepare(sql::kListAudit, "list audit records");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_int(1, cursor_or_start(before)).bind_int(2, std::int64_t{limit} + 1);
    return read_page<AuditRecord>(*select, limit, read_audit_record);
  });
}

Result<std::int64_t> Store::audit_length() {
  return impl_->read([&](Connection& connection) -> Result<std::int64_t> {
    auto select = connection.prepare(sql::kAuditLength, "read the audit trail's length");
    if (!select) return std::unexpected(std::move(select.error()));
    auto row = select->step();
    if (!row) return std::unexpected(std::move(row.error()));
    return *row ? select->int64(0) : std::int64_t{0};
  });
}

}  // namespace signerd::store
