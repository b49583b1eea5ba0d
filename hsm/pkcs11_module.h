#pragma once
// Loading a PKCS#11 module and finding a token in it. Internal to hsm/.
#include <p11-kit/pkcs11.h>

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace signerd::hsm {

// A dlopen'ed PKCS#11 module and its function list. Move-only; never dlclosed once loaded (see pkcs11_module.cc).
class Module {
 public:
  // kInvalidArgument "PKCS#11 module not found: <path>", or why it could not be loaded.
  static Result<Module> load(const std::string& path);

  Module(Module&& other) noexcept;
  Module& operator=(Module&& other) noexcept;
  ~Module();

  CK_FUNCTION_LIST* operator->() const { return functions_; }
  CK_FUNCTION_LIST* functions() const { return functions_; }

 private:
  Module(void* handle, CK_FUNCTION_LIST* functions) : handle_(handle), functions_(functions) {}
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* functions_ = nullptr;
};

// C_Initialize with CKF_OS_LOCKING_OK. Returns false when the module was already initialised in this process (then
// someone else owns the C_Finalize).
Result<bool> initialize(CK_FUNCTION_LIST* p11);

// A module loaded and initialised for one tool operation (signerctl's hsm commands): C_Finalize on destruction when
// this object did the C_Initialize. Move-only.
class InitializedModule {
 public:
  static Result<InitializedModule> open(const std::string& path);
  InitializedModule(InitializedModule&& other) noexcept;
  InitializedModule& operator=(InitializedModule&&) = delete;
  ~InitializedModule();

  CK_FUNCTION_LIST* functions() const { return module_.functions(); }

 private:
  InitializedModule(Module module, bool owned) : module_(std::move(module)), owned_(owned) {}
  Module module_;
  bool owned_ = false;
};

// CK_INFO.libraryDescription, trimmed.
std::string library_description(CK_FUNCTION_LIST* p11);

struct Token {
  CK_SLOT_ID slot = 0;
  std::string label;
  std::string serial;
};

// The initialised token whose serial (when `serial` is set) or label matches. kInvalidArgument naming the tokens
// present when none does.
Result<Token> find_token(CK_FUNCTION_LIST* p11, const std::string& label, const std::string& serial);

// A blank-padded CK_TOKEN_INFO/CK_INFO text field without the padding.
std::string trim_field(const unsigned char* field, std::size_t size);

}  // namespace signerd::hsm
