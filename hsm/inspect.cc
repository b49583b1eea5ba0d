#include "hsm/inspect.h"

#include <array>
#include <cstdio>
#include <utility>

#include "common/hex.h"
#include "hsm/pkcs11_errors.h"
#include "hsm/pkcs11_module.h"

namespace signerd::hsm {
namespace {

struct NeededMechanism {
  CK_MECHANISM_TYPE type;
  const char* name;
  const char* purpose;
};

constexpr std::array<NeededMechanism, 4> kNeeded{{
    {CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", "generate secp256k1 and P-256 keys"},
    {CKM_ECDSA, "CKM_ECDSA", "sign 32-byte digests with secp256k1 and P-256 keys"},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN", "generate ed25519 keys"},
    {CKM_EDDSA, "CKM_EDDSA", "sign messages with ed25519 keys"},
}};

std::string version_text(const CK_VERSION& v) {
  return std::to_string(v.major) + "." + (v.minor < 10 ? "0" : "") + std::to_string(v.minor);
}

std::vector<std::string> mechanism_flags(CK_FLAGS flags) {
  static constexpr std::pair<CK_FLAGS, const char*> kNames[] = {
      {CKF_HW, "hw"},
      {CKF_SIGN, "sign"},
      {CKF_VERIFY, "verify"},
      {CKF_GENERATE_KEY_PAIR, "generate_key_pair"},
      {CKF_DERIVE, "derive"},
      {CKF_EC_F_P, "ec_f_p"},
      {CKF_EC_NAMEDCURVE, "ec_named_curve"},
      {CKF_EC_UNCOMPRESS, "ec_uncompress"},
      {CKF_EC_COMPRESS, "ec_compress"},
  };
  std::vector<std::string> out;
  for (const auto& [bit, name] : kNames) {
    if (flags & bit) out.emplace_back(name);
  }
  return out;
}

std::string key_type_name(CK_KEY_TYPE type) {
  switch (type) {
    case CKK_RSA: return "RSA";
    case CKK_EC: return "EC";
    case CKK_EC_EDWARDS: return "EC_EDWARDS";
    case CKK_DSA: return "DSA";
    default: {
      char buf[24];
      std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(type));
      return buf;
    }
  }
}

Result<std::vector<CK_SLOT_ID>> all_slots(CK_FUNCTION_LIST* p11) {
  std::vector<CK_SLOT_ID> slots;
  for (;;) {  // the slot count can change between the two calls
    CK_ULONG count = 0;
    CK_RV rv = p11->C_GetSlotList(CK_FALSE, nullptr, &count);
    if (rv != CKR_OK) return std::unexpected(p11_error("C_GetSlotList", rv));
    slots.resize(count);
    rv = p11->C_GetSlotList(CK_FALSE, slots.data(), &count);
    if (rv == CKR_BUFFER_TOO_SMALL) continue;
    if (rv != CKR_OK) return std::unexpected(p11_error("C_GetSlotList", rv));
    slots.resize(count);
    return slots;
  }
}

// A read-only session, logged out (when this code logged it in) and closed on destruction.
class InspectionSession {
 public:
  InspectionSession(CK_FUNCTION_LIST* p11, CK_SESSION_HANDLE handle) : p11_(p11), handle_(handle) {}
  InspectionSession(const InspectionSession&) = delete;
  InspectionSession& operator=(const InspectionSession&) = delete;
  ~InspectionSession() {
    if (logged_in_) p11_->C_Logout(handle_);
    p11_->C_CloseSession(handle_);
  }
  CK_SESSION_HANDLE handle() const { return handle_; }
  void set_logged_in() { logged_in_ = true; }

 private:
  CK_FUNCTION_LIST* p11_;
  CK_SESSION_HANDLE handle_;
  bool logged_in_ = false;
};

// One C_FindObjectsInit .. C_FindObjectsFinal.
class ObjectSearch {
 public:
  ObjectSearch(CK_FUNCTION_LIST* p11, CK_SESSION_HANDLE session) : p11_(p11), session_(session) {}
  ObjectSearch(const ObjectSearch&) = delete;
  ObjectSearch& operator=(const ObjectSearch&) = delete;
  ~ObjectSearch() {
    if (active_) p11_->C_FindObjectsFinal(session_);
  }
  Result<void> start(CK_ATTRIBUTE* match, CK_ULONG count) {
    if (CK_RV rv = p11_->C_FindObjectsInit(session_, match, count); rv != CKR_OK) {
      return std::unexpected(p11_error("C_FindObjectsInit", rv));
    }
    active_ = true;
    return {};
  }
  // Every matching handle. Handles are collected before attributes are read: reading attributes while a find
  // operation is active is allowed, but some modules mishandle it.
  Result<std::vector<CK_OBJECT_HANDLE>> all() {
    std::vector<CK_OBJECT_HANDLE> out;
    std::array<CK_OBJECT_HANDLE, 64> batch{};
    for (;;) {
      CK_ULONG n = 0;
      if (CK_RV rv = p11_->C_FindObjects(session_, batch.data(), batch.size(), &n); rv != CKR_OK) {
        return std::unexpected(p11_error("C_FindObjects", rv));
      }
      if (n == 0) break;
      out.insert(out.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
    }
    return out;
  }

 private:
  CK_FUNCTION_LIST* p11_;
  CK_SESSION_HANDLE session_;
  bool active_ = false;
};

// A variable-length attribute (CKA_LABEL, CKA_ID); empty when the object has none or it cannot be read.
Bytes read_bytes(CK_FUNCTION_LIST* p11, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  if (p11->C_GetAttributeValue(session, object, &attr, 1) != CKR_OK || attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return {};
  }
  Bytes value(attr.ulValueLen);
  attr.pValue = value.data();
  if (p11->C_GetAttributeValue(session, object, &attr, 1) != CKR_OK) return {};
  value.resize(attr.ulValueLen);
  return value;
}

// Reads the attributes that tell whether a private key can leave the token. nullopt when the object is gone.
std::optional<KeyFinding> check_private_key(CK_FUNCTION_LIST* p11, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
  CK_BBOOL extractable = CK_FALSE, sensitive = CK_TRUE;
  CK_KEY_TYPE key_type = CKK_VENDOR_DEFINED;
  CK_ATTRIBUTE attrs[] = {
      {CKA_EXTRACTABLE, &extractable, sizeof extractable},
      {CKA_SENSITIVE, &sensitive, sizeof sensitive},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
  };
  const CK_RV rv = p11->C_GetAttributeValue(session, object, attrs, 3);
  // CKR_ATTRIBUTE_TYPE_INVALID / _SENSITIVE still fill the attributes that exist; the others get
  // CK_UNAVAILABLE_INFORMATION and keep the safe default above.
  if (rv == CKR_OBJECT_HANDLE_INVALID) return std::nullopt;
  KeyFinding key;
  if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE) {
    key.problems.push_back("attributes unreadable (C_GetAttributeValue: " + ckr_name(rv) + ")");
  } else {
    if (attrs[0].ulValueLen != CK_UNAVAILABLE_INFORMATION && extractable == CK_TRUE) {
      key.problems.emplace_back("CKA_EXTRACTABLE=true");
    }
    if (attrs[1].ulValueLen != CK_UNAVAILABLE_INFORMATION && sensitive == CK_FALSE) {
      key.problems.emplace_back("CKA_SENSITIVE=false");
    }
  }
  if (key.problems.empty()) return key;
  const Bytes label = read_bytes(p11, session, object, CKA_LABEL);
  key.label.assign(label.begin(), label.end());
  key.id_hex = to_hex(read_bytes(p11, session, object, CKA_ID));
  key.key_type = attrs[2].ulValueLen != CK_UNAVAILABLE_INFORMATION ? key_type_name(key_type) : "unknown";
  return key;
}

void fill_module_info(CK_FUNCTION_LIST* p11, InspectReport& report) {
  CK_INFO info{};
  if (p11->C_GetInfo(&info) != CKR_OK) return;
  report.library_description = trim_field(info.libraryDescription, sizeof info.libraryDescription);
  report.library_manufacturer = trim_field(info.manufacturerID, sizeof info.manufacturerID);
  report.library_version = version_text(info.libraryVersion);
  report.cryptoki_version = version_text(info.cryptokiVersion);
}

void fill_slots(CK_FUNCTION_LIST* p11, InspectReport& report) {
  auto slots = all_slots(p11);
  if (!slots) return;
  for (CK_SLOT_ID id : *slots) {
    SlotReport slot;
    slot.slot_id = id;
    CK_SLOT_INFO slot_info{};
    if (p11->C_GetSlotInfo(id, &slot_info) == CKR_OK) {
      slot.description = trim_field(slot_info.slotDescription, sizeof slot_info.slotDescription);
      slot.token_present = (slot_info.flags & CKF_TOKEN_PRESENT) != 0;
    }
    CK_TOKEN_INFO token{};
    if (slot.token_present && p11->C_GetTokenInfo(id, &token) == CKR_OK) {
      slot.token_initialized = (token.flags & CKF_TOKEN_INITIALIZED) != 0;
      slot.user_pin_initialized = (token.flags & CKF_USER_PIN_INITIALIZED) != 0;
      slot.label = trim_field(token.label, sizeof token.label);
      slot.serial = trim_field(token.serialNumber, sizeof token.serialNumber);
      slot.manufacturer = trim_field(token.manufacturerID, sizeof token.manufacturerID);
      slot.model = trim_field(token.model, sizeof token.model);
    }
    report.slots.push_back(std::move(slot));
  }
}

void fill_mechanisms(CK_FUNCTION_LIST* p11, CK_SLOT_ID slot, InspectReport& report) {
  for (const auto& needed : kNeeded) {
    MechanismReport m;
    m.name = needed.name;
    m.purpose = needed.purpose;
    CK_MECHANISM_INFO info{};
    const CK_RV rv = p11->C_GetMechanismInfo(slot, needed.type, &info);
    if (rv == CKR_OK) {
      m.offered = true;
      m.min_key_size = info.ulMinKeySize;
      m.max_key_size = info.ulMaxKeySize;
      m.flags = mechanism_flags(info.flags);
    } else if (rv != CKR_MECHANISM_INVALID) {
      m.error = "C_GetMechanismInfo: " + ckr_name(rv);
    }
    report.mechanisms.push_back(std::move(m));
  }
}

void login_and_scan(CK_FUNCTION_LIST* p11, CK_SLOT_ID slot, const SecretString& pin, InspectReport& report) {
  // A failed login counts against the token's retry limit: never spend the last try, nor try a locked PIN.
  CK_TOKEN_INFO token{};
  if (p11->C_GetTokenInfo(slot, &token) == CKR_OK) {
    if (token.flags & CKF_USER_PIN_LOCKED) {
      report.login = LoginOutcome::kPinRefused;
      report.login_error = "the token's user PIN is locked; login not attempted";
      return;
    }
    if (token.flags & CKF_USER_PIN_FINAL_TRY) {
      report.login = LoginOutcome::kPinRefused;
      report.login_error =
          "the token's user PIN has one try left; login not attempted (check the PIN, then log in "
          "with the vendor's tool)";
      return;
    }
  }
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  if (CK_RV rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &handle); rv != CKR_OK) {
    report.login = LoginOutcome::kFailed;
    report.login_error = p11_error("C_OpenSession", rv).message;
    return;
  }
  InspectionSession session(p11, handle);
  const auto pin_text = pin.view();
  const CK_RV rv = p11->C_Login(handle, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin_text.data())),
                                pin_text.size());
  if (rv == CKR_OK) {
    session.set_logged_in();
  } else if (rv != CKR_USER_ALREADY_LOGGED_IN) {
    const bool refused = rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
                         rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE || rv == CKR_USER_PIN_NOT_INITIALIZED;
    report.login = refused ? LoginOutcome::kPinRefused : LoginOutcome::kFailed;
    report.login_error = login_error(rv).message;
    return;
  }
  report.login = LoginOutcome::kOk;

  CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE match[] = {{CKA_CLASS, &klass, sizeof klass}};
  std::vector<CK_OBJECT_HANDLE> handles;
  {
    ObjectSearch search(p11, handle);
    auto started = search.start(match, 1);
    if (!started) {
      report.scan_error = started.error().message;
      return;
    }
    auto found = search.all();
    if (!found) {
      report.scan_error = found.error().message;
      return;
    }
    handles = std::move(*found);
  }
  std::uint64_t scanned = 0;
  for (CK_OBJECT_HANDLE object : handles) {
    auto key = check_private_key(p11, handle, object);
    if (!key) continue;  // destroyed since the search (signerd reconciling, say)
    ++scanned;
    if (!key->problems.empty()) report.findings.push_back(std::move(*key));
  }
  report.private_keys_scanned = scanned;
}

}  // namespace

bool InspectReport::mechanisms_ok() const {
  if (mechanisms.empty()) return false;
  for (const auto& m : mechanisms) {
    if (!m.offered) return false;
  }
  return true;
}

bool InspectReport::ok() const {
  return token_found && mechanisms_ok() &&
         (login == LoginOutcome::kNotAttempted || (login == LoginOutcome::kOk && private_keys_scanned)) &&
         scan_error.empty() && findings.empty();
}

const char* to_string(LoginOutcome outcome) {
  switch (outcome) {
    case LoginOutcome::kNotAttempted: return "not_attempted";
    case LoginOutcome::kOk: return "ok";
    case LoginOutcome::kPinRefused: return "pin_refused";
    case LoginOutcome::kFailed: return "failed";
  }
  return "failed";
}

Result<InspectReport> inspect_token(const InspectRequest& request) {
  auto module = InitializedModule::open(request.module_path);
  if (!module) return std::unexpected(module.error());
  CK_FUNCTION_LIST* p11 = module->functions();

  InspectReport report;
  report.module_path = request.module_path;
  fill_module_info(p11, report);
  fill_slots(p11, report);

  auto token = find_token(p11, request.token_label, request.token_serial);
  if (!token) {
    report.token_error = token.error().message;
    return report;
  }
  report.token_found = true;
  report.token_slot = token->slot;
  report.token_label = token->label;
  report.token_serial = token->serial;
  for (auto& slot : report.slots) slot.selected = slot.slot_id == token->slot;

  fill_mechanisms(p11, token->slot, report);
  if (request.pin) login_and_scan(p11, token->slot, *request.pin, report);
  return report;
}

}  // namespace signerd::hsm
