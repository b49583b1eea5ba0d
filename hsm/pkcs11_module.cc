#include "hsm/pkcs11_module.h"

#include <dlfcn.h>

#include <filesystem>
#include <utility>

#include "hsm/pkcs11_errors.h"

namespace signerd::hsm {

Result<Module> Module::load(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) {
    return fail(ErrorCode::kInvalidArgument, "PKCS#11 module not found: " + path);
  }
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return fail(ErrorCode::kInvalidArgument,
                "cannot load PKCS#11 module " + path + ": " + (why != nullptr ? why : "dlopen failed"));
  }
  auto get_function_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  if (get_function_list == nullptr) {
    ::dlclose(handle);
    return fail(ErrorCode::kInvalidArgument, "not a PKCS#11 module (no C_GetFunctionList): " + path);
  }
  CK_FUNCTION_LIST* functions = nullptr;
  const CK_RV rv = get_function_list(&functions);
  if (rv != CKR_OK || functions == nullptr) {
    ::dlclose(handle);
    return fail(ErrorCode::kInvalidArgument,
                "PKCS#11 module " + path + ": C_GetFunctionList: " + ckr_name(rv != CKR_OK ? rv : CKR_GENERAL_ERROR));
  }
  return Module(handle, functions);
}

Module::Module(Module&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)), functions_(std::exchange(other.functions_, nullptr)) {}

// A loaded module is never dlclosed: modules commonly keep threads, atexit handlers or OpenSSL state that outlive
// C_Finalize (SoftHSM does), and unloading them is a known source of crashes at exit. The handle is left to the
// process, as most PKCS#11 consumers do; dlopen of the same path again reuses it.
Module& Module::operator=(Module&& other) noexcept {
  if (this != &other) {
    handle_ = std::exchange(other.handle_, nullptr);
    functions_ = std::exchange(other.functions_, nullptr);
  }
  return *this;
}

Module::~Module() = default;

Result<InitializedModule> InitializedModule::open(const std::string& path) {
  auto module = Module::load(path);
  if (!module) return std::unexpected(module.error());
  auto initialized = initialize(module->functions());
  if (!initialized) return std::unexpected(initialized.error());
  return InitializedModule(std::move(*module), *initialized);
}

InitializedModule::InitializedModule(InitializedModule&& other) noexcept
    : module_(std::move(other.module_)), owned_(std::exchange(other.owned_, false)) {}

InitializedModule::~InitializedModule() {
  if (owned_) module_.functions()->C_Finalize(nullptr);
}

Result<bool> initialize(CK_FUNCTION_LIST* p11) {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = p11->C_Initialize(&args);
  if (rv == CKR_OK) return true;
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) return false;
  return std::unexpected(p11_error("C_Initialize", rv));
}

std::string library_description(CK_FUNCTION_LIST* p11) {
  CK_INFO info{};
  if (p11->C_GetInfo(&info) != CKR_OK) return {};
  return trim_field(info.libraryDescription, sizeof info.libraryDescription);
}

std::string trim_field(const unsigned char* field, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(field), size);
  const auto end = s.find_last_not_of(std::string_view(" \0", 2));
  s.resize(end == std::string::npos ? 0 : end + 1);
  return s;
}

Result<Token> find_token(CK_FUNCTION_LIST* p11, const std::string& label, const std::string& serial) {
  std::vector<CK_SLOT_ID> slots;
  for (;;) {  // the slot count can change between the two calls
    CK_ULONG count = 0;
    CK_RV rv = p11->C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv != CKR_OK) return std::unexpected(p11_error("C_GetSlotList", rv));
    slots.resize(count);
    rv = p11->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv == CKR_BUFFER_TOO_SMALL) continue;
    if (rv != CKR_OK) return std::unexpected(p11_error("C_GetSlotList", rv));
    slots.resize(count);
    break;
  }
  std::vector<Token> present;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (p11->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    Token token{slot, trim_field(info.label, sizeof info.label),
                trim_field(info.serialNumber, sizeof info.serialNumber)};
    if (serial.empty() ? token.label == label : token.serial == serial) return token;
    present.push_back(std::move(token));
  }
  std::string message =
      serial.empty() ? "no token with label '" + label + "'" : "no token with serial '" + serial + "'";
  if (present.empty()) {
    message += " (no initialised tokens present)";
  } else {
    message += " (tokens present: ";
    for (std::size_t i = 0; i < present.size(); ++i) {
      if (i > 0) message += ", ";
      message += present[i].label;
      if (!serial.empty()) message += " (serial " + present[i].serial + ")";
    }
    message += ")";
  }
  return fail(ErrorCode::kInvalidArgument, message);
}

}  // namespace signerd::hsm
