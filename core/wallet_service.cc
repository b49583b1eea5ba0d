#include "core/wallet_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "chains/address.h"
#include "common/hex.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/time_format.h"

namespace signerd::core {
namespace {

using Curve = chains::EcdsaOrEd25519::Curve;

std::int64_t now_ms() { return to_unix_millis(std::chrono::system_clock::now()); }

Curve chains_curve(std::string_view curve) {
  if (curve == "secp256k1") return Curve::kSecp256k1;
  if (curve == "secp256r1") return Curve::kSecp256r1;
  return Curve::kEd25519;
}

// A valid public key of each curve (the generators), to ask address_for whether a curve fits a network before any
// key exists.
Result<void> probe(std::string_view network, std::string_view curve) {
  static const Bytes k1 = *from_hex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  static const Bytes r1 = *from_hex("036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
  static const Bytes ed = *from_hex("5866666666666666666666666666666666666666666666666666666666666666");
  const Curve c = chains_curve(curve);
  const Bytes& bytes = c == Curve::kSecp256k1 ? k1 : c == Curve::kSecp256r1 ? r1 : ed;
  auto address = chains::address_for(network, {c, bytes});
  if (!address) return std::unexpected(address.error());
  return {};
}

bool unsupported_network(const Error& e) { return e.message.starts_with("unsupported network"); }

}  // namespace

Result<Wallet> WalletService::create_wallet(const Principal& who, const CreateWalletRequest& request) {
  // 1. The network: refused before anything else.
  const auto networks = chains::supported_networks();
  if (std::find(networks.begin(), networks.end(), request.network) == networks.end()) {
    return fail(ErrorCode::kInvalidArgument, "unsupported network: " + request.network);
  }
  // 2. The key type asked for, if any.
  std::optional<KeyType> type;
  if (request.scheme || request.curve) {
    if (!request.scheme || !request.curve) {
      return fail(ErrorCode::kInvalidArgument, "signingKey needs both scheme and curve, or neither");
    }
    auto parsed = parse_key_type(*request.scheme, *request.curve);
    if (!parsed) return std::unexpected(parsed.error());
    type = *parsed;
  }
  // 3. The key: an existing one, or the type of the new one.
  std::optional<store::KeyRecord> key;
  if (request.key_id) {
    if (request.delegate_to || request.delay_delegation) {
      return fail(ErrorCode::kInvalidArgument,
                  "delegateTo and delayDelegation apply to a new key; signingKey.id names an existing one");
    }
    auto existing = keys_.lookup(*request.key_id);
    if (!existing) return std::unexpected(existing.error());
    if (auto r = KeyService::check_access(who, *existing, true); !r) return std::unexpected(r.error());
    if (existing->status != store::KeyStatus::kActive) {
      return fail(ErrorCode::kInvalidArgument, "key " + existing->id + " is archived");
    }
    if (type && (type->scheme != existing->scheme || type->curve != existing->curve)) {
      return fail(ErrorCode::kInvalidArgument, "key " + existing->id + " is " + existing->scheme + " " +
                                                   existing->curve + ", not " + type->scheme + " " + type->curve);
    }
    key = std::move(*existing);
  } else if (!type) {
    // The network's usual key: secp256k1 where it fits, else ed25519.
    if (probe(request.network, "secp256k1")) {
      type = KeyType{"ECDSA", "secp256k1", hsm::Curve::kSecp256k1};
    } else if (probe(request.network, "ed25519")) {
      type = KeyType{"EdDSA", "ed25519", hsm::Curve::kEd25519};
    } else {
      return fail(ErrorCode::kInvalidArgument, "unsupported network: " + request.network);
    }
  }
  const std::string curve = key ? key->curve : type->curve;
  if (auto fits = probe(request.network, curve); !fits) {
    if (unsupported_network(fits.error())) return std::unexpected(fits.error());
    return fail(ErrorCode::kInvalidArgument,
                "a " + curve + " key cannot make a wallet on network " + request.network + ": " + fits.error().message);
  }
  // 4. Everything is checked: now create the key when needed, derive the address, record the wallet. Should the
  //    wallet write fail after a new key was made, the key stays as an ordinary Active key (listed, usable).
  const bool new_key = !key;
  if (!key) {
    auto created =
        keys_.create_key(who, {type->scheme, type->curve, std::nullopt, request.delegate_to, request.delay_delegation});
    if (!created) return std::unexpected(created.error());
    key = std::move(*created);
  }
  auto public_key = from_hex(key->public_key);
  if (!public_key) return fail(ErrorCode::kInternal, "stored public key of " + key->id + " is not hex");
  auto address = chains::address_for(request.network, {chains_curve(key->curve), *public_key});
  if (!address) return std::unexpected(address.error());

  store::WalletRecord wallet;
  wallet.id = make_entity_id("wa");
  wallet.network = request.network;
  wallet.address = std::move(*address);
  wallet.key_id = key->id;
  wallet.name = request.name;
  wallet.status = "Active";
  wallet.custodial = key->custodial;
  wallet.external_id = request.external_id;
  for (const auto& tag : request.tags) {
    if (std::find(wallet.tags.begin(), wallet.tags.end(), tag) == wallet.tags.end()) wallet.tags.push_back(tag);
  }
  wallet.owner_id = who.id;
  wallet.date_created_ms = now_ms();
  const auto audit = audit_entry(who, {wallet.id, key->id});
  if (auto inserted = store_.insert_wallet(wallet, &audit); !inserted) return std::unexpected(inserted.error());
  auto stored = store_.get_wallet(wallet.id);
  if (!stored) return std::unexpected(stored.error());
  if (*stored) wallet = std::move(**stored);
  signerd::log(LogComponent::kApi)
      .info("wallet created wallet={} network={} key={} new_key={} principal={}", wallet.id, wallet.network, key->id,
            new_key, who.id);
  return Wallet{std::move(wallet), std::move(*key)};
}

Result<Wallet> WalletService::with_key(store::WalletRecord wallet) {
  auto key = keys_.lookup(wallet.key_id);
  if (!key) return fail(ErrorCode::kInternal, "wallet " + wallet.id + ": " + key.error().message);
  // A wallet is as custodial as its key (delegation changes the key).
  wallet.custodial = key->custodial;
  return Wallet{std::move(wallet), std::move(*key)};
}

Result<Wallet> WalletService::accessible(const Principal& who, std::string_view wallet_id, bool control) {
  auto wallet = store_.get_wallet(wallet_id);
  if (!wallet) return std::unexpected(wallet.error());
  if (!*wallet) return fail(ErrorCode::kNotFound, "wallet " + std::string(wallet_id) + " not found");
  auto full = with_key(std::move(**wallet));
  if (!full) return full;
  if (auto r = KeyService::check_access(who, full->key, control); !r) return std::unexpected(r.error());
  return full;
}

Result<Wallet> WalletService::get_wallet(const Principal& who, std::string_view wallet_id) {
  return accessible(who, wallet_id, false);
}

Result<Wallet> WalletService::delegate_wallet(const Principal& who, std::string_view wallet_id,
                                              std::string_view user_id) {
  auto wallet = accessible(who, wallet_id, true);
  if (!wallet) return wallet;
  auto siblings = store_.list_wallets_for_key(wallet->key.id);
  if (!siblings) return std::unexpected(siblings.error());
  if (siblings->size() > 1) {
    return fail(ErrorCode::kInvalidArgument, "wallet " + wallet->wallet.id + "'s key " + wallet->key.id + " backs " +
                                                 std::to_string(siblings->size()) +
                                                 " wallets; delegate the key itself with POST /keys/{keyId}/delegate");
  }
  auto key = keys_.delegate_key(who, wallet->key.id, user_id);
  if (!key) return std::unexpected(key.error());
  wallet->key = std::move(*key);
  wallet->wallet.custodial = wallet->key.custodial;
  return wallet;
}

Result<store::Page<Wallet>> WalletService::list_wallets(const Principal& who, std::optional<std::int64_t> before,
                                                         int limit, std::optional<std::string> owner) {
  if (who.kind == PrincipalKind::kEndUser) {
    if (owner && *owner != who.id) return store::Page<Wallet>{};
    owner = who.id;
  }
  auto page = owner ? store_.list_wallets(before, limit, *owner) : store_.list_wallets(before, limit);
  if (!page) return std::unexpected(page.error());
  store::Page<Wallet> out;
  out.next_cursor = page->next_cursor;
  out.items.reserve(page->items.size());
  for (auto& w : page->items) {
    auto full = with_key(std::move(w));
    if (!full) return std::unexpected(full.error());
    out.items.push_back(std::move(*full));
  }
  return out;
}

Result<Wallet> WalletService::update_wallet(const Principal& who, std::string_view wallet_id,
                                            const store::Store::WalletUpdate& update) {
  if (auto allowed = accessible(who, wallet_id, true); !allowed) return allowed;
  const auto audit = audit_entry(who, {std::string(wallet_id)});
  auto wallet = store_.update_wallet(wallet_id, update, &audit);
  if (!wallet) return std::unexpected(wallet.error());
  signerd::log(LogComponent::kApi).debug("wallet updated wallet={} principal={}", wallet->id, who.id);
  return with_key(std::move(*wallet));
}

Result<Wallet> WalletService::add_tags(const Principal& who, std::string_view wallet_id,
                                       const std::vector<std::string>& tags) {
  auto wallet = accessible(who, wallet_id, true);
  if (!wallet) return wallet;
  auto merged = wallet->wallet.tags;
  for (const auto& tag : tags) {
    if (std::find(merged.begin(), merged.end(), tag) == merged.end()) merged.push_back(tag);
  }
  const auto audit = audit_entry(who, {std::string(wallet_id)});
  auto updated = store_.set_wallet_tags(wallet_id, merged, &audit);
  if (!updated) return std::unexpected(updated.error());
  return with_key(std::move(*updated));
}

Result<Wallet> WalletService::remove_tags(const Principal& who, std::string_view wallet_id,
                                          const std::vector<std::string>& tags) {
  auto wallet = accessible(who, wallet_id, true);
  if (!wallet) return wallet;
  auto kept = wallet->wallet.tags;
  std::erase_if(kept, [&](const std::string& t) { return std::find(tags.begin(), tags.end(), t) != tags.end(); });
  const auto audit = audit_entry(who, {std::string(wallet_id)});
  auto updated = store_.set_wallet_tags(wallet_id, kept, &audit);
  if (!updated) return std::unexpected(updated.error());
  return with_key(std::move(*updated));
}

Result<std::vector<store::WalletRecord>> WalletService::wallets_of_key(std::string_view key_id) {
  return store_.list_wallets_for_key(key_id);
}

}  // namespace signerd::core
