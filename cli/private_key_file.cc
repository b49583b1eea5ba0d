#include "cli/private_key_file.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string_view>

#include "common/secret.h"

namespace signerd::cli {
namespace {

// OpenSSL must never prompt on the terminal for a passphrase: an encrypted key fails to load instead.
int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

Result<std::shared_ptr<evp_pkey_st>> read_private_key_file(const std::string& option, const std::string& path) {
  const auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, option + " " + path + ": " + why);
  };
  auto pem = read_secret_file(path);  // refuses a file other users can read; errors never quote the content
  if (!pem) return fail(ErrorCode::kInvalidArgument, option + ": " + pem.error().message);
  const std::string_view text = pem->view();
  if (text.find("ENCRYPTED") != std::string_view::npos) {
    return bad("the private key is encrypted; signerctl takes an unencrypted PEM key (openssl pkey -in KEY -out NEW) "
               "in a file only its owner can read");
  }
  if (text.find("PRIVATE KEY-----") == std::string_view::npos) {
    return bad(text.find("PUBLIC KEY-----") != std::string_view::npos
                   ? "holds a public key; give the private key"
                   : "is not a PEM private key (-----BEGIN PRIVATE KEY-----)");
  }
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, &no_passphrase, nullptr) : nullptr;
  BIO_free(bio);
  ERR_clear_error();  // OpenSSL's reasons could name what it parsed; ours do not
  if (key == nullptr) return bad("OpenSSL cannot read the PEM private key in it");
  return std::shared_ptr<evp_pkey_st>(key, &EVP_PKEY_free);
}

}  // namespace signerd::cli
