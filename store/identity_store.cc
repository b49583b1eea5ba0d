// Identity objects (store.h, IdentityObject): persisted and loaded as opaque JSON documents.
#include <string>

#include "store/schema.h"
#include "store/store_impl.h"

namespace signerd::store {
namespace {

Result<IdentityObject> read_identity_object(const Statement& row) {
  IdentityObject object;
  object.seq = row.int64(0);
  object.kind = row.text(1);
  object.id = row.text(2);
  object.json = row.text(3);
  return object;
}

}  // namespace

Result<void> Store::put_identity_objects(const std::vector<IdentityObject>& objects, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<void> {
    for (const auto& object : objects) {
      auto put = connection.prepare(sql::kPutIdentityObject, "put identity object");
      if (!put) return std::unexpected(std::move(put.error()));
      put->bind_text(1, object.kind).bind_text(2, object.id).bind_text(3, object.json);
      if (auto written = put->run(); !written) return written;
    }
    if (audit != nullptr) {
      if (auto appended = append_audit_in(connection, *audit); !appended) {
        return std::unexpected(std::move(appended.error()));
      }
    }
    return {};
  });
}

Result<std::vector<IdentityObject>> Store::load_identity_objects() {
  return impl_->read([&](Connection& connection) -> Result<std::vector<IdentityObject>> {
    auto select = connection.prepare(sql::kLoadIdentityObjects, "load identity objects");
    if (!select) return std::unexpected(std::move(select.error()));
    return read_all(*select, read_identity_object);
  });
}

}  // namespace signerd::store
