#pragma once
// A private key named on signerctl's command line (--credential-key-file, --key), read the one careful way.
#include <memory>
#include <string>

#include "common/error.h"

struct evp_pkey_st;

namespace signerd::cli {

// The unencrypted PEM private key in `path`, given with the command-line option `option` (named in every error,
// with the path). The file must not be readable by other users (mode 0600 or 0640: the rule of common/secret.h
// read_secret_file, as for every secret file signerd reads). kInvalidArgument when it is too open or unreadable,
// encrypted, a public key, or not a PEM private key OpenSSL can read. Errors never quote the file's content, and
// OpenSSL never prompts on the terminal for a passphrase.
Result<std::shared_ptr<evp_pkey_st>> read_private_key_file(const std::string& option, const std::string& path);

}  // namespace signerd::cli
