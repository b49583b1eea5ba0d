#pragma once
// signerctl's exit codes: a contract with scripts. Documented in `signerctl --help` and cli/README.md; change all
// three together.
#include "common/error.h"

namespace signerd::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,        // any other error; `hsm check`: a finding, a missing mechanism
  kExitUsage = 2,         // bad command line, unreadable or too-open PIN, token or credential key file; a change over
                          // --url without the credential to sign it
  kExitConflict = 3,      // already exists / conflict (409)
  kExitNotFound = 4,      // not found (404); `hsm check`: no such token
  kExitUnavailable = 5,   // daemon unreachable (connect failure, timeout, TLS handshake or certificate verification
                          // failure) or unavailable (503)
  kExitUnauthorized = 6,  // not authorised (401, 403, a user-action step refused); `hsm check`: PIN refused
  kExitBadRequest = 7,    // bad request (400, 413)
  kExitAuditBroken = 8,   // `audit verify`: the audit trail's hash chain does not hold
};

inline constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  failed (any other error; hsm check: a finding or a missing mechanism)\n"
    "  2  usage (bad arguments, unreadable or too-open token, PIN or credential key file; a change over --url\n"
    "     without --cred-id and --credential-key-file)\n"
    "  3  already exists / conflict (HTTP 409)\n"
    "  4  not found (HTTP 404; hsm check: no such token)\n"
    "  5  daemon unreachable or unavailable (cannot connect, timeout, TLS handshake failed or the daemon's\n"
    "     certificate not verified, HTTP 503)\n"
    "  6  not authorised (HTTP 401/403, a user-action step refused; hsm check: PIN refused)\n"
    "  7  bad request (HTTP 400/413)\n"
    "  8  audit verify: the audit chain is broken\n";

inline int exit_code_for_http(int status) {
  if (status >= 200 && status < 300) return kExitOk;
  switch (status) {
    case 400:
    case 413: return kExitBadRequest;
    case 401:
    case 403: return kExitUnauthorized;
    case 404: return kExitNotFound;
    case 409: return kExitConflict;
    case 503: return kExitUnavailable;
    default: return kExitFailed;
  }
}

inline int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kPayloadTooLarge: return kExitBadRequest;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied: return kExitUnauthorized;
    case ErrorCode::kNotFound: return kExitNotFound;
    case ErrorCode::kConflict: return kExitConflict;
    case ErrorCode::kUnavailable: return kExitUnavailable;
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kInternal: return kExitFailed;
  }
  return kExitFailed;
}

}  // namespace signerd::cli
