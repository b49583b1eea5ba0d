#pragma once
// The signerctl commands for the daemon's audit trail (GET /audit, newest first). Each returns an exit code from
// cli/exit_codes.h.
#include "cli/api_call.h"

namespace signerd::cli {

// GET /audit?limit=N: the newest `lines` records, one line each, oldest first (the newest last, as tail does).
int run_audit_tail(const DaemonContext& ctx, unsigned lines);

// Reads the whole trail (every page of GET /audit), orders it by seq and checks its hash chain with the same code
// the daemon writes it with (common/audit_chain.h), so the check does not rest on the daemon's word. Prints
// "audit chain OK: N records, head <hash>" (0), or "audit chain BROKEN at record S: <reason>" (kExitAuditBroken).
// A record the daemon serves with a field missing or of the wrong type counts as broken there. `--json`:
// {"ok", "records", "head"} or {"ok", "records", "brokenAt", "reason"}.
int run_audit_verify(const DaemonContext& ctx);

}  // namespace signerd::cli
