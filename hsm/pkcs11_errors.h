#pragma once
// PKCS#11 return codes grouped by what the caller should do: recover the module, blame the request, or call an
// operator. Internal to hsm/.
#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "common/error.h"

namespace signerd::hsm {

// "CKR_DEVICE_ERROR" for the codes signerd is likely to meet, "CKR_0x00000123" otherwise.
std::string ckr_name(CK_RV rv);

struct RvClass {
  ErrorCode code;
  bool needs_recovery;  // the session or the module is broken: discard the session and recover before reuse
};

// The one place that decides what a return code means.
RvClass classify(CK_RV rv);

// "<function>: <CKR name>" with the code of classify(rv).
Error p11_error(std::string_view function, CK_RV rv);

// The C_Login failure as an operator reads it ("PIN incorrect", "PIN locked", ...). Never contains the PIN.
Error login_error(CK_RV rv);

}  // namespace signerd::hsm
