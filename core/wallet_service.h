#pragma once
// The rules for wallets (dfns-api.md §3): a wallet is the address of one HSM key on one network. Creating a wallet
// creates its key through KeyService (or reuses signingKey.id when its curve fits the network); the address comes
// from chains::address_for. Bad input creates nothing: the network, the key type and a reused key are all checked
// before any key is made.
//
// Thread-safety: every member function may be called from many threads at once; all of them block.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/key_service.h"
#include "core/principal.h"
#include "store/store.h"

namespace signerd::core {

struct CreateWalletRequest {
  std::string network;
  std::optional<std::string> name;
  std::optional<std::string> key_id;  // signingKey.id: reuse this key
  std::optional<std::string> scheme;  // signingKey.scheme
  std::optional<std::string> curve;   // signingKey.curve
  std::optional<std::string> external_id;
  std::vector<std::string> tags;
  std::optional<std::string> delegate_to;  // as CreateKeyRequest; only for a new key
  bool delay_delegation = false;
};

// A wallet with its signing key, as the API shows it.
struct Wallet {
  store::WalletRecord wallet;
  store::KeyRecord key;
};

class WalletService {
 public:
  WalletService(KeyService& keys, store::Store& store) : keys_(keys), store_(store) {}

  // kInvalidArgument: "unsupported network: X", a key type that does not fit the network, an archived key;
  // kNotFound: an unknown signingKey.id.
  // A wallet follows its key's custody rules (KeyService): end users reach only wallets of keys delegated to them,
  // and a delegated wallet is changed only by its end user.
  Result<Wallet> create_wallet(const Principal& who, const CreateWalletRequest& request);
  Result<Wallet> get_wallet(const Principal& who, std::string_view wallet_id);  // kNotFound
  // `owner`: as KeyService::list_keys.
  Result<store::Page<Wallet>> list_wallets(const Principal& who, std::optional<std::int64_t> before, int limit,
                                           std::optional<std::string> owner = std::nullopt);
  Result<Wallet> update_wallet(const Principal& who, std::string_view wallet_id,
                               const store::Store::WalletUpdate& update);
  // Tags are a set kept in insertion order: add_tags appends the new ones, remove_tags drops the named ones.
  Result<Wallet> add_tags(const Principal& who, std::string_view wallet_id, const std::vector<std::string>& tags);
  Result<Wallet> remove_tags(const Principal& who, std::string_view wallet_id, const std::vector<std::string>& tags);
  // Delegates the wallet's key (created with delayDelegation) to the end user `user_id`.
  Result<Wallet> delegate_wallet(const Principal& who, std::string_view wallet_id, std::string_view user_id);
  // The wallets of a key, oldest first.
  Result<std::vector<store::WalletRecord>> wallets_of_key(std::string_view key_id);

 private:
  Result<Wallet> with_key(store::WalletRecord wallet);
  // The wallet, when `who` may read it (control = false) or change it (control = true).
  Result<Wallet> accessible(const Principal& who, std::string_view wallet_id, bool control);

  KeyService& keys_;
  store::Store& store_;
};

}  // namespace signerd::core
