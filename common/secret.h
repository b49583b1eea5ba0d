#pragma once
// Memory for secrets (PINs, bearer tokens): wiped with OPENSSL_cleanse when released and kept out of core dumps
// where the kernel allows it (madvise MADV_DONTDUMP on the pages it spans). Never format one into a log or error.
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace signerd {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value);
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  SecretString(SecretString&& other) noexcept;
  SecretString& operator=(SecretString&& other) noexcept;
  ~SecretString();

  std::string_view view() const { return value_; }
  bool empty() const { return value_.empty(); }
  void wipe();

 private:
  std::string value_;
};

// Reads a secret from a file, dropping one trailing newline. Errors name the file, never its content. Refuses a file
// that other users can read (mode & 0077) unless `allow_group_readable` permits 0640-style group read.
Result<SecretString> read_secret_file(const std::filesystem::path& path, bool allow_group_readable = true);

// Constant-time comparison for tokens.
bool secret_equals(std::string_view a, std::string_view b);

}  // namespace signerd
