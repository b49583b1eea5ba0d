#include "common/secret.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace signerd {
namespace {

void exclude_from_core_dumps(std::string& s) {
  if (s.capacity() == 0) return;
  const long page = sysconf(_SC_PAGESIZE);
  auto begin = reinterpret_cast<std::uintptr_t>(s.data());
  auto end = begin + s.capacity();
  begin &= ~static_cast<std::uintptr_t>(page - 1);
  // Best effort: the heap pages the secret spans are left out of core dumps.
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTDUMP);
}

}  // namespace

SecretString::SecretString(std::string value) : value_(std::move(value)) { exclude_from_core_dumps(value_); }

SecretString::SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }

SecretString& SecretString::operator=(SecretString&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

SecretString::~SecretString() { wipe(); }

void SecretString::wipe() {
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
  value_.clear();
}

Result<SecretString> read_secret_file(const std::filesystem::path& path, bool allow_group_readable) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorCode::kInvalidArgument,
                "cannot read secret file " + path.string() + ": " + std::strerror(errno));
  }
  const mode_t forbidden = allow_group_readable ? S_IRWXO : (S_IRWXG | S_IRWXO);
  if ((st.st_mode & forbidden) != 0) {
    return fail(ErrorCode::kInvalidArgument,
                allow_group_readable
                    ? "secret file " + path.string() + " is readable by other users; chmod it to 0600 or 0640"
                    : "secret file " + path.string() + " is readable by its group or other users; chmod it to 0600");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kInvalidArgument, "cannot open secret file " + path.string());
  std::string content;
  content.reserve(static_cast<std::size_t>(st.st_size) + 1);
  content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) return fail(ErrorCode::kInvalidArgument, "secret file " + path.string() + " is empty");
  return SecretString(std::move(content));
}

bool secret_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace signerd
