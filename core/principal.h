#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/audit_chain.h"

namespace signerd::core {

enum class PrincipalKind {
  kAnonymous,       // no credentials: health checks and login only
  kLocalAdmin,      // a trusted local OS user over the Unix socket (SO_PEERCRED): every permission, no user action
  kServiceAccount,  // "us-…" with a service-account token
  kOrgUser,         // "us-…" org user (CustomerEmployee) with a login token
  kEndUser,         // "us-…" end user with its own login token: reaches only keys delegated to it
};

// Who is asking, and through which request (for the audit trail and the requester of signatures).
struct Principal {
  std::string id;                             // "us-…", "os-uid-<uid>" (kLocalAdmin) or "anonymous"
  std::optional<std::string> token_id;        // "to-…" of the bearer token
  PrincipalKind kind = PrincipalKind::kAnonymous;
  // Filled in by the API for the request at hand.
  std::optional<std::string> credential_id;   // the credId that signed this request's user action
  std::string method;
  std::string path;                           // without the query
  std::string body_sha256;                    // hex
};

// The audit entry of the request `who` is making, now, with outcome "ok".
AuditEntry audit_entry(const Principal& who, std::vector<std::string> affected_ids);

}  // namespace signerd::core
