#include "hsm/token_setup.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "hsm/pkcs11_errors.h"
#include "hsm/pkcs11_module.h"

namespace signerd::hsm {
namespace {

CK_UTF8CHAR_PTR utf8(std::string_view s) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s.data()));
}

Result<std::vector<CK_SLOT_ID>> slots(CK_FUNCTION_LIST* p11) {
  CK_ULONG count = 0;
  if (CK_RV rv = p11->C_GetSlotList(CK_TRUE, nullptr, &count); rv != CKR_OK) {
    return std::unexpected(p11_error("C_GetSlotList", rv));
  }
  std::vector<CK_SLOT_ID> ids(count);
  if (CK_RV rv = p11->C_GetSlotList(CK_TRUE, ids.data(), &count); rv != CKR_OK) {
    return std::unexpected(p11_error("C_GetSlotList", rv));
  }
  ids.resize(count);
  return ids;
}

}  // namespace

Result<std::string> initialize_token(const TokenSetup& setup) {
  if (setup.label.empty() || setup.label.size() > 32) {
    return fail(ErrorCode::kInvalidArgument, "a token label must be 1 to 32 bytes");
  }
  auto module = InitializedModule::open(setup.module_path);
  if (!module) return std::unexpected(module.error());
  CK_FUNCTION_LIST* p11 = module->functions();

  auto ids = slots(p11);
  if (!ids) return std::unexpected(ids.error());
  std::optional<CK_SLOT_ID> free_slot;
  for (CK_SLOT_ID id : *ids) {
    CK_TOKEN_INFO info{};
    if (p11->C_GetTokenInfo(id, &info) != CKR_OK) continue;
    if (info.flags & CKF_TOKEN_INITIALIZED) {
      if (trim_field(info.label, sizeof info.label) == setup.label) {
        return fail(ErrorCode::kConflict, "a token labelled '" + setup.label + "' exists already");
      }
    } else if (!free_slot) {
      free_slot = id;
    }
  }
  if (!free_slot) return fail(ErrorCode::kInvalidArgument, "no slot with an uninitialised token");

  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  std::memcpy(label, setup.label.data(), setup.label.size());
  const auto so_pin = setup.so_pin.view();
  if (CK_RV rv = p11->C_InitToken(*free_slot, utf8(so_pin), so_pin.size(), label); rv != CKR_OK) {
    return std::unexpected(p11_error("C_InitToken", rv));
  }
  // SoftHSM moves a newly initialised token to a new slot: find it again by label.
  auto token = find_token(p11, setup.label, "");
  if (!token) return std::unexpected(token.error());
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  if (CK_RV rv = p11->C_OpenSession(token->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
      rv != CKR_OK) {
    return std::unexpected(p11_error("C_OpenSession", rv));
  }
  CK_RV rv = p11->C_Login(session, CKU_SO, utf8(so_pin), so_pin.size());
  if (rv == CKR_OK) {
    const auto user_pin = setup.user_pin.view();
    rv = p11->C_InitPIN(session, utf8(user_pin), user_pin.size());
    if (rv != CKR_OK) {
      p11->C_Logout(session);
      p11->C_CloseSession(session);
      return std::unexpected(p11_error("C_InitPIN", rv));
    }
    p11->C_Logout(session);
  }
  p11->C_CloseSession(session);
  if (rv != CKR_OK) return std::unexpected(login_error(rv));
  return token->serial;
}

}  // namespace signerd::hsm
