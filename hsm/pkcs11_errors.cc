#include "hsm/pkcs11_errors.h"

#include "common/metrics.h"

#include <cstdio>

namespace signerd::hsm {

std::string ckr_name(CK_RV rv) {
  switch (rv) {
#define SIGNERD_CKR(name) \
  case name: return #name;
    SIGNERD_CKR(CKR_OK)
    SIGNERD_CKR(CKR_CANCEL)
    SIGNERD_CKR(CKR_HOST_MEMORY)
    SIGNERD_CKR(CKR_SLOT_ID_INVALID)
    SIGNERD_CKR(CKR_GENERAL_ERROR)
    SIGNERD_CKR(CKR_FUNCTION_FAILED)
    SIGNERD_CKR(CKR_ARGUMENTS_BAD)
    SIGNERD_CKR(CKR_CANT_LOCK)
    SIGNERD_CKR(CKR_ATTRIBUTE_READ_ONLY)
    SIGNERD_CKR(CKR_ATTRIBUTE_SENSITIVE)
    SIGNERD_CKR(CKR_ATTRIBUTE_TYPE_INVALID)
    SIGNERD_CKR(CKR_ATTRIBUTE_VALUE_INVALID)
    SIGNERD_CKR(CKR_ACTION_PROHIBITED)
    SIGNERD_CKR(CKR_DATA_INVALID)
    SIGNERD_CKR(CKR_DATA_LEN_RANGE)
    SIGNERD_CKR(CKR_DEVICE_ERROR)
    SIGNERD_CKR(CKR_DEVICE_MEMORY)
    SIGNERD_CKR(CKR_DEVICE_REMOVED)
    SIGNERD_CKR(CKR_FUNCTION_CANCELED)
    SIGNERD_CKR(CKR_FUNCTION_NOT_SUPPORTED)
    SIGNERD_CKR(CKR_KEY_HANDLE_INVALID)
    SIGNERD_CKR(CKR_KEY_SIZE_RANGE)
    SIGNERD_CKR(CKR_KEY_TYPE_INCONSISTENT)
    SIGNERD_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED)
    SIGNERD_CKR(CKR_KEY_UNEXTRACTABLE)
    SIGNERD_CKR(CKR_MECHANISM_INVALID)
    SIGNERD_CKR(CKR_MECHANISM_PARAM_INVALID)
    SIGNERD_CKR(CKR_OBJECT_HANDLE_INVALID)
    SIGNERD_CKR(CKR_OPERATION_ACTIVE)
    SIGNERD_CKR(CKR_OPERATION_NOT_INITIALIZED)
    SIGNERD_CKR(CKR_PIN_INCORRECT)
    SIGNERD_CKR(CKR_PIN_INVALID)
    SIGNERD_CKR(CKR_PIN_LEN_RANGE)
    SIGNERD_CKR(CKR_PIN_EXPIRED)
    SIGNERD_CKR(CKR_PIN_LOCKED)
    SIGNERD_CKR(CKR_SESSION_CLOSED)
    SIGNERD_CKR(CKR_SESSION_COUNT)
    SIGNERD_CKR(CKR_SESSION_HANDLE_INVALID)
    SIGNERD_CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED)
    SIGNERD_CKR(CKR_SESSION_READ_ONLY)
    SIGNERD_CKR(CKR_SESSION_EXISTS)
    SIGNERD_CKR(CKR_SESSION_READ_ONLY_EXISTS)
    SIGNERD_CKR(CKR_SESSION_READ_WRITE_SO_EXISTS)
    SIGNERD_CKR(CKR_SIGNATURE_INVALID)
    SIGNERD_CKR(CKR_SIGNATURE_LEN_RANGE)
    SIGNERD_CKR(CKR_TEMPLATE_INCOMPLETE)
    SIGNERD_CKR(CKR_TEMPLATE_INCONSISTENT)
    SIGNERD_CKR(CKR_TOKEN_NOT_PRESENT)
    SIGNERD_CKR(CKR_TOKEN_NOT_RECOGNIZED)
    SIGNERD_CKR(CKR_TOKEN_WRITE_PROTECTED)
    SIGNERD_CKR(CKR_USER_ALREADY_LOGGED_IN)
    SIGNERD_CKR(CKR_USER_NOT_LOGGED_IN)
    SIGNERD_CKR(CKR_USER_PIN_NOT_INITIALIZED)
    SIGNERD_CKR(CKR_USER_TYPE_INVALID)
    SIGNERD_CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
    SIGNERD_CKR(CKR_USER_TOO_MANY_TYPES)
    SIGNERD_CKR(CKR_RANDOM_NO_RNG)
    SIGNERD_CKR(CKR_DOMAIN_PARAMS_INVALID)
    SIGNERD_CKR(CKR_CURVE_NOT_SUPPORTED)
    SIGNERD_CKR(CKR_BUFFER_TOO_SMALL)
    SIGNERD_CKR(CKR_CRYPTOKI_NOT_INITIALIZED)
    SIGNERD_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    SIGNERD_CKR(CKR_MUTEX_BAD)
    SIGNERD_CKR(CKR_MUTEX_NOT_LOCKED)
    SIGNERD_CKR(CKR_FIPS_SELF_TEST_FAILED)
    SIGNERD_CKR(CKR_LIBRARY_LOAD_FAILED)
    SIGNERD_CKR(CKR_PIN_TOO_WEAK)
    SIGNERD_CKR(CKR_PUBLIC_KEY_INVALID)
    SIGNERD_CKR(CKR_FUNCTION_REJECTED)
#undef SIGNERD_CKR
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%08lX", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

RvClass classify(CK_RV rv) {
  switch (rv) {
    // The session, the login or the module is gone: reopen, log in again, or re-initialise.
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_MEMORY:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED: return {ErrorCode::kUnavailable, true};
    // Transient shortage on our side or the module's; nothing is broken.
    case CKR_HOST_MEMORY:
    case CKR_SESSION_COUNT: return {ErrorCode::kUnavailable, false};
    // The request (data, key, curve) does not fit the mechanism; repeating it will fail again.
    case CKR_ARGUMENTS_BAD:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED: return {ErrorCode::kInvalidArgument, false};
    default: return {ErrorCode::kInternal, false};
  }
}

Error p11_error(std::string_view function, CK_RV rv) {
  metrics::registry().add("signerd_hsm_errors_total", {{"function", std::string(function)}, {"code", ckr_name(rv)}});
  return Error{classify(rv).code, std::string(function) + ": " + ckr_name(rv), {}};
}

Error login_error(CK_RV rv) {
  std::string what;
  switch (rv) {
    case CKR_PIN_INCORRECT: what = "PIN incorrect"; break;
    case CKR_PIN_LOCKED: what = "PIN locked"; break;
    case CKR_PIN_EXPIRED: what = "PIN expired"; break;
    case CKR_PIN_INVALID: what = "PIN contains characters the token does not accept"; break;
    case CKR_PIN_LEN_RANGE: what = "PIN length outside the range the token accepts"; break;
    case CKR_USER_PIN_NOT_INITIALIZED: what = "the token's user PIN is not initialised"; break;
    default: return p11_error("C_Login", rv);
  }
  return Error{ErrorCode::kInvalidArgument, what + " (C_Login: " + ckr_name(rv) + ")", {}};
}

}  // namespace signerd::hsm
