// A fault-injecting PKCS#11 module. It loads the real module named by $P11FAULT_REAL_MODULE (default: SoftHSM)
// on the first C_GetFunctionList and hands out a copy of its function list in which C_Sign, C_SignInit,
// C_GenerateKeyPair, C_OpenSession, C_Login, C_GetSessionInfo and C_FindObjectsInit first consult the control file
// named by $P11FAULT_CONTROL, re-read on every call:
//
//   (no file, empty, or unknown)      forward to the real module
//   device_error [C_Fn ...]           return CKR_DEVICE_ERROR without calling the real module
//   device_error_once [C_Fn ...]      the same for exactly one call, then truncate the file
//   delay <ms> [C_Fn ...]             sleep <ms> milliseconds, then forward
//   pin_locked [C_Fn ...]             return CKR_PIN_LOCKED (as a token does after too many wrong PINs)
//
// When function names follow, only those functions are affected. Thread-safe; nothing runs at load time.
#include <dlfcn.h>
#include <fcntl.h>
#include <p11-kit/pkcs11.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct State {
  std::mutex mutex;  // guards loading and the read-and-truncate of device_error_once
  std::atomic<CK_FUNCTION_LIST*> real{nullptr};
  CK_FUNCTION_LIST wrapped{};
};

State& state() {
  static State instance;  // constructed on first use, not at load time
  return instance;
}

CK_FUNCTION_LIST* real() { return state().real.load(std::memory_order_acquire); }

// What the control file asks of `function`: CKR_OK to forward, or the code to return instead.
CK_RV inject(const char* function) {
  const char* control = std::getenv("P11FAULT_CONTROL");
  if (control == nullptr || *control == '\0') return CKR_OK;

  long delay_ms = 0;
  {
    std::lock_guard lock(state().mutex);
    std::ifstream in(control);
    if (!in) return CKR_OK;
    std::stringstream content;
    content << in.rdbuf();
    std::vector<std::string> words;
    for (std::string word; content >> word;) words.push_back(word);
    if (words.empty()) return CKR_OK;

    const std::string& mode = words[0];
    std::size_t first_function = 1;
    if (mode == "delay") {
      if (words.size() < 2) return CKR_OK;
      delay_ms = std::strtol(words[1].c_str(), nullptr, 10);
      first_function = 2;
    } else if (mode != "device_error" && mode != "device_error_once" && mode != "pin_locked") {
      return CKR_OK;
    }
    if (words.size() > first_function &&
        std::find(words.begin() + static_cast<long>(first_function), words.end(), function) == words.end()) {
      return CKR_OK;
    }
    if (mode == "device_error") return CKR_DEVICE_ERROR;
    if (mode == "pin_locked") return CKR_PIN_LOCKED;
    if (mode == "device_error_once") {
      const int fd = ::open(control, O_WRONLY | O_TRUNC | O_CLOEXEC);
      if (fd >= 0) ::close(fd);
      return CKR_DEVICE_ERROR;
    }
  }
  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  return CKR_OK;
}

CK_RV wrap_sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR signature,
                CK_ULONG_PTR signature_len) {
  if (CK_RV rv = inject("C_Sign"); rv != CKR_OK) return rv;
  return real()->C_Sign(session, data, data_len, signature, signature_len);
}

CK_RV wrap_sign_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  if (CK_RV rv = inject("C_SignInit"); rv != CKR_OK) return rv;
  return real()->C_SignInit(session, mechanism, key);
}

CK_RV wrap_generate_key_pair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_ATTRIBUTE_PTR public_template,
                             CK_ULONG public_count, CK_ATTRIBUTE_PTR private_template, CK_ULONG private_count,
                             CK_OBJECT_HANDLE_PTR public_key, CK_OBJECT_HANDLE_PTR private_key) {
  if (CK_RV rv = inject("C_GenerateKeyPair"); rv != CKR_OK) return rv;
  return real()->C_GenerateKeyPair(session, mechanism, public_template, public_count, private_template, private_count,
                                   public_key, private_key);
}

CK_RV wrap_open_session(CK_SLOT_ID slot, CK_FLAGS flags, void* application, CK_NOTIFY notify,
                        CK_SESSION_HANDLE_PTR session) {
  if (CK_RV rv = inject("C_OpenSession"); rv != CKR_OK) return rv;
  return real()->C_OpenSession(slot, flags, application, notify, session);
}

CK_RV wrap_login(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
  if (CK_RV rv = inject("C_Login"); rv != CKR_OK) return rv;
  return real()->C_Login(session, user_type, pin, pin_len);
}

CK_RV wrap_get_session_info(CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info) {
  if (CK_RV rv = inject("C_GetSessionInfo"); rv != CKR_OK) return rv;
  return real()->C_GetSessionInfo(session, info);
}

CK_RV wrap_find_objects_init(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR match, CK_ULONG count) {
  if (CK_RV rv = inject("C_FindObjectsInit"); rv != CKR_OK) return rv;
  return real()->C_FindObjectsInit(session, match, count);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.real.load(std::memory_order_relaxed) == nullptr) {
    const char* path = std::getenv("P11FAULT_REAL_MODULE");
    if (path == nullptr || *path == '\0') path = SIGNERD_SOFTHSM_MODULE;
    // Never dlclosed: the real module lives as long as the process.
    void* handle = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      std::fprintf(stderr, "p11fault: cannot load %s: %s\n", path, ::dlerror());
      return CKR_GENERAL_ERROR;
    }
    auto get_function_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
    CK_FUNCTION_LIST* functions = nullptr;
    if (get_function_list == nullptr || get_function_list(&functions) != CKR_OK || functions == nullptr) {
      std::fprintf(stderr, "p11fault: %s is not a PKCS#11 module\n", path);
      ::dlclose(handle);
      return CKR_GENERAL_ERROR;
    }
    s.wrapped = *functions;
    s.wrapped.C_GetFunctionList = C_GetFunctionList;
    s.wrapped.C_Sign = wrap_sign;
    s.wrapped.C_SignInit = wrap_sign_init;
    s.wrapped.C_GenerateKeyPair = wrap_generate_key_pair;
    s.wrapped.C_OpenSession = wrap_open_session;
    s.wrapped.C_Login = wrap_login;
    s.wrapped.C_GetSessionInfo = wrap_get_session_info;
    s.wrapped.C_FindObjectsInit = wrap_find_objects_init;
    s.real.store(functions, std::memory_order_release);
  }
  *list = &s.wrapped;
  return CKR_OK;
}
