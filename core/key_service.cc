#include "core/key_service.h"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <future>
#include <memory>

#include "chains/address.h"
#include "chains/ecdsa.h"
#include "chains/evm.h"
#include "chains/evm_tx.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time_format.h"

namespace signerd::core {
namespace {

std::int64_t now_ms() { return to_unix_millis(std::chrono::system_clock::now()); }

// Key lifecycle lines go to the api component; reconciliation, which mends the store, to the store component. Ids
// only: never a name, a body or a token.
spdlog::logger& api_log() { return signerd::log(LogComponent::kApi); }

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string request_digest(std::string_view key_id, std::string_view canonical_body) {
  std::string material(key_id);
  material += '\n';
  material += canonical_body;
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> d{};
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), d.data());
  return to_hex(d);
}

bool is_ecdsa(const store::KeyRecord& key) { return key.scheme == "ECDSA"; }

hsm::Curve hsm_curve_of(const store::KeyRecord& key) {
  if (key.curve == "secp256k1") return hsm::Curve::kSecp256k1;
  if (key.curve == "secp256r1") return hsm::Curve::kP256;
  return hsm::Curve::kEd25519;
}

// The public key as the API shows it: SEC1 compressed for ECDSA, the raw 32 bytes for ed25519; hex, no 0x.
Result<std::string> api_public_key(hsm::Curve curve, const Bytes& hsm_public_key) {
  if (curve == hsm::Curve::kEd25519) {
    if (hsm_public_key.size() != 32) return fail(ErrorCode::kInternal, "the HSM returned a malformed ed25519 key");
    return to_hex(hsm_public_key);
  }
  auto compressed = chains::compress_point(hsm_public_key);
  if (!compressed) return fail(ErrorCode::kInternal, "the HSM returned a malformed EC point");
  return to_hex(*compressed);
}

// The first custody record of a key, from how it was created.
store::CustodyEvent creation_custody(const store::KeyRecord& key) {
  if (key.delegated_to) return {"CreatedDelegated", key.delegated_to};
  if (key.delay_delegation) return {"DelegationPending", std::nullopt};
  return {"CreatedCustodial", std::nullopt};
}

}  // namespace

Result<KeyType> parse_key_type(std::string_view scheme, std::string_view curve) {
  static constexpr std::string_view kSupported = "supported: ECDSA with secp256k1 or secp256r1, EdDSA with ed25519";
  if (scheme == "ECDSA") {
    if (curve == "secp256k1") return KeyType{"ECDSA", "secp256k1", hsm::Curve::kSecp256k1};
    if (curve == "secp256r1") return KeyType{"ECDSA", "secp256r1", hsm::Curve::kP256};
  } else if (scheme == "EdDSA") {
    if (curve == "ed25519") return KeyType{"EdDSA", "ed25519", hsm::Curve::kEd25519};
  } else if (scheme == "Schnorr" || scheme == "DH") {
    return fail(ErrorCode::kInvalidArgument,
                "scheme " + std::string(scheme) + " is not supported by this HSM-backed signer; " +
                    std::string(kSupported));
  } else {
    return fail(ErrorCode::kInvalidArgument, "unknown scheme '" + std::string(scheme) + "'; " +
                                                 std::string(kSupported));
  }
  if (curve == "stark") {
    return fail(ErrorCode::kInvalidArgument,
                "curve stark is not supported by this HSM-backed signer; " + std::string(kSupported));
  }
  return fail(ErrorCode::kInvalidArgument, "curve '" + std::string(curve) + "' does not go with scheme " +
                                               std::string(scheme) + "; " + std::string(kSupported));
}

Result<store::KeyRecord> KeyService::create_key(const Principal& who, const CreateKeyRequest& request) {
  auto type = parse_key_type(request.scheme, request.curve);
  if (!type) return std::unexpected(type.error());
  const auto started = std::chrono::steady_clock::now();

  store::KeyRecord key;
  key.id = make_entity_id("key");
  key.scheme = type->scheme;
  key.curve = type->curve;
  key.name = request.name;
  key.status = store::KeyStatus::kCreating;
  key.custodial = !request.delegate_to;
  key.delegated_to = request.delegate_to;
  key.delay_delegation = request.delay_delegation && !request.delegate_to;
  key.public_key_id = request.public_key_id;
  key.owner_id = who.id;
  key.date_created_ms = now_ms();
  // The record comes first: a crash after the HSM created the key leaves a Creating row that reconcile() finishes,
  // never an HSM object nobody knows about.
  if (auto r = store_.insert_key(key); !r) return std::unexpected(r.error());

  auto point = hsm_.generate_key(key.id, type->hsm_curve);
  if (!point) {
    api_log().warn("key creation failed key={} curve={} principal={} error=\"{}\"", key.id, key.curve, who.id,
                   point.error().message);
    store_.transition_key(key.id, {.from = store::KeyStatus::kCreating,
                                   .to = store::KeyStatus::kFailed,
                                   .failure_reason = point.error().message});
    return std::unexpected(point.error());
  }
  auto public_key = api_public_key(type->hsm_curve, *point);
  if (!public_key) {
    store_.transition_key(key.id, {.from = store::KeyStatus::kCreating,
                                   .to = store::KeyStatus::kFailed,
                                   .failure_reason = public_key.error().message});
    return std::unexpected(public_key.error());
  }
  const auto audit = audit_entry(who, {key.id});
  auto active = store_.transition_key(key.id,
                                      {.from = store::KeyStatus::kCreating,
                                       .to = store::KeyStatus::kActive,
                                       .public_key = *public_key,
                                       .custody = creation_custody(key)},
                                      &audit);
  if (active) {
    remember(*active);
    metrics::registry().add("signerd_keys_created_total", {{"curve", active->curve}});
    api_log().info("key created key={} scheme={} curve={} principal={} custodial={} ms={:.1f}", active->id,
                   active->scheme, active->curve, who.id, active->custodial, ms_since(started));
  } else {
    api_log().warn("key creation failed key={} curve={} principal={} error=\"{}\"", key.id, key.curve, who.id,
                   active.error().message);
  }
  return active;
}

void KeyService::remember(const store::KeyRecord& key) {
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() >= kMaxCachedKeys && !cache_.contains(key.id)) cache_.clear();
  cache_.insert_or_assign(key.id, key);
}

Result<void> KeyService::check_access(const Principal& who, const store::KeyRecord& key, bool control) {
  if (who.kind == PrincipalKind::kEndUser) {
    if (key.delegated_to != who.id) {
      return fail(ErrorCode::kPermissionDenied, "permission denied: key " + key.id + " is not delegated to you");
    }
    return {};
  }
  if (control && key.delegated_to) {
    return fail(ErrorCode::kPermissionDenied,
                "permission denied: key " + key.id +
                    " is delegated to an end user; only that user can sign with, rename or archive it");
  }
  return {};
}

Result<store::KeyRecord> KeyService::get_key(const Principal& who, std::string_view key_id) {
  auto key = lookup(key_id);
  if (!key) return key;
  if (auto r = check_access(who, *key, false); !r) return std::unexpected(r.error());
  return key;
}

Result<store::KeyRecord> KeyService::lookup(std::string_view key_id) {
  {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(std::string(key_id)); it != cache_.end()) return it->second;
  }
  auto key = store_.get_key(key_id);
  if (!key) return std::unexpected(key.error());
  if (!*key || (*key)->status == store::KeyStatus::kCreating || (*key)->status == store::KeyStatus::kFailed) {
    return fail(ErrorCode::kNotFound, "key " + std::string(key_id) + " not found");
  }
  remember(**key);
  return std::move(**key);
}

Result<store::KeyRecord> KeyService::active_key(const Principal& who, std::string_view key_id) {
  auto key = lookup(key_id);
  if (!key) return key;
  if (auto r = check_access(who, *key, true); !r) return std::unexpected(r.error());
  if (key->status == store::KeyStatus::kArchived) {
    return fail(ErrorCode::kInvalidArgument, "key " + std::string(key_id) + " is archived");
  }
  return key;
}

Result<store::Page<store::KeyRecord>> KeyService::list_keys(const Principal& who, std::optional<std::int64_t> before,
                                                             int limit, std::optional<std::string> owner) {
  if (who.kind == PrincipalKind::kEndUser) {
    if (owner && *owner != who.id) return store::Page<store::KeyRecord>{};
    return store_.list_keys(before, limit, who.id);
  }
  if (owner) return store_.list_keys(before, limit, *owner);
  return store_.list_keys(before, limit);
}

Result<store::KeyRecord> KeyService::rename_key(const Principal& who, std::string_view key_id,
                                                std::optional<std::string> name) {
  auto key = active_key(who, key_id);
  if (!key) return key;
  const auto audit = audit_entry(who, {key->id});
  auto renamed = store_.rename_key(key_id, std::move(name), &audit);
  if (renamed) {
    remember(*renamed);
    api_log().debug("key renamed key={} principal={}", renamed->id, who.id);  // never the name: it is client data
  }
  return renamed;
}

Result<store::KeyRecord> KeyService::delegate_key(const Principal& who, std::string_view key_id,
                                                  std::string_view user_id) {
  auto key = lookup(key_id);
  if (!key) return key;
  if (auto r = check_access(who, *key, true); !r) return std::unexpected(r.error());
  const auto audit = audit_entry(who, {key->id, std::string(user_id)});
  auto delegated = store_.delegate_key(key_id, user_id, audit);
  if (delegated) {
    remember(*delegated);
    api_log().info("key delegated key={} to={} principal={}", delegated->id, user_id, who.id);
  }
  return delegated;
}

Result<std::vector<store::CustodyRecord>> KeyService::custody(const Principal& who, std::string_view key_id) {
  if (auto key = get_key(who, key_id); !key) return std::unexpected(key.error());
  return store_.custody_of_key(key_id);
}

Result<store::KeyRecord> KeyService::archive_key(const Principal& who, std::string_view key_id) {
  auto key = active_key(who, key_id);
  if (!key) return key;
  const auto audit = audit_entry(who, {key->id});
  auto archived = store_.transition_key(key_id,
                                        {.from = store::KeyStatus::kActive,
                                         .to = store::KeyStatus::kArchived,
                                         .date_deleted_ms = now_ms()},
                                        &audit);
  if (!archived && archived.error().code == ErrorCode::kConflict) {
    // Archived concurrently by another request.
    return fail(ErrorCode::kInvalidArgument, "key " + std::string(key_id) + " is archived");
  }
  if (archived) {
    remember(*archived);
    api_log().info("key archived key={} curve={} principal={}", archived->id, archived->curve, who.id);
  }
  return archived;
}

Result<SignOutcome> KeyService::replay(const store::SignatureRecord& existing, std::string_view key_id,
                                       std::string_view digest) {
  if (existing.key_id != key_id || existing.request_digest != digest) {
    Error e{ErrorCode::kConflict, "Conflicting signature request with same externalId", {}};
    e.details["duplicate"] = {{"id", existing.id}, {"externalId", existing.external_id.value_or("")}};
    return std::unexpected(std::move(e));
  }
  return SignOutcome{existing, false};
}

Result<KeyService::Prepared> KeyService::sign_in_hsm(const Principal& who, std::string_view key_id,
                                                     const SignatureRequest& request) {
  auto key = lookup(key_id);
  if (!key) return std::unexpected(key.error());
  if (auto r = check_access(who, *key, true); !r) return std::unexpected(r.error());
  const std::string digest = request_digest(key_id, request.canonical_body);

  // An externalId retry returns what the first request produced, even once the key is archived.
  if (request.external_id) {
    auto existing = store_.find_signature_by_external_id(*request.external_id);
    if (!existing) return std::unexpected(existing.error());
    if (*existing) {
      auto replayed = replay(**existing, key_id, digest);
      if (!replayed && (*existing)->key_id != key_id) {
        // Bound to another key: name the duplicate only to a caller who may read that key.
        auto other = lookup((*existing)->key_id);
        if (!other || !check_access(who, *other, false)) {
          return fail(ErrorCode::kConflict, "Conflicting signature request with same externalId");
        }
      }
      if (!replayed) return std::unexpected(replayed.error());
      return Prepared{std::move(*replayed), {}, {}};
    }
  }
  if (key->status == store::KeyStatus::kArchived) {
    return fail(ErrorCode::kInvalidArgument, "key " + std::string(key_id) + " is archived and cannot sign");
  }

  const bool ecdsa = is_ecdsa(*key);
  // Bound to EVM conventions: EIP-191 for messages, 0x r||s||v as the encoded signature.
  const bool evm = (request.network && chains::is_evm_network(*request.network)) ||
                   (request.blockchain_kind && *request.blockchain_kind == "Evm");
  const bool eip191 = request.kind == SignatureKind::kEip191 || (request.kind == SignatureKind::kMessage && ecdsa);
  const bool evm_kind = request.kind == SignatureKind::kEip712 || request.kind == SignatureKind::kTransaction;
  if (request.kind == SignatureKind::kHash && request.payload.size() != 32) {
    return fail(ErrorCode::kInvalidArgument, "hash must be 32 bytes (64 hex digits)");
  }
  if (evm_kind && key->curve != "secp256k1") {
    return fail(ErrorCode::kInvalidArgument, "EIP-712 and EVM transactions are signed with secp256k1 keys, not " +
                                                 key->curve);
  }
  if (request.network && !chains::is_evm_network(*request.network) && (evm_kind || request.kind == SignatureKind::kEip191)) {
    return fail(ErrorCode::kInvalidArgument, "network " + *request.network + " is not an EVM network");
  }
  if (request.kind == SignatureKind::kTransaction) {
    if (!request.transaction) return fail(ErrorCode::kInvalidArgument, "transaction is required");
    if (request.network) {
      const auto expected = chains::evm_chain_id(*request.network);
      const auto actual = request.transaction->chain_id.to_u64();
      if (!expected) {
        return fail(ErrorCode::kInvalidArgument,
                    "signerd does not know the chain id of " + *request.network + "; omit network to sign anyway");
      }
      if (actual != expected) {
        return fail(ErrorCode::kInvalidArgument, "the transaction's chainId " +
                                                     request.transaction->chain_id.to_decimal() + " is not " +
                                                     *request.network + "'s (" + std::to_string(*expected) + ")");
      }
    }
  }
  if (request.kind == SignatureKind::kMessage && ecdsa && !evm) {
    return fail(ErrorCode::kInvalidArgument,
                "kind Message with an ECDSA key needs an EVM network (network or blockchainKind \"Evm\"), where it "
                "is an EIP-191 message; otherwise sign a 32-byte digest with kind Hash");
  }
  if (eip191 && key->curve != "secp256k1") {
    return fail(ErrorCode::kInvalidArgument, "EIP-191 messages are signed with secp256k1 keys, not " + key->curve);
  }
  if (request.kind == SignatureKind::kMessage && !ecdsa && request.payload.empty()) {
    return fail(ErrorCode::kInvalidArgument, "message must be 1 to 65536 bytes");
  }
  if (request.kind != SignatureKind::kHash && request.payload.size() > kMaxMessageBytes) {
    return fail(ErrorCode::kInvalidArgument, "message must be at most 65536 bytes");
  }
  // What the HSM signs: the payload itself (Hash, EdDSA Message, Eip712 digest) or a digest computed here.
  Bytes digest_buffer;
  if (eip191) {
    const auto h = chains::eip191_message_hash(request.payload);
    digest_buffer.assign(h.begin(), h.end());
  } else if (request.kind == SignatureKind::kTransaction) {
    const auto h = chains::signing_hash(*request.transaction);
    digest_buffer.assign(h.begin(), h.end());
  }
  const std::span<const std::uint8_t> to_sign = digest_buffer.empty()
                                                    ? std::span<const std::uint8_t>(request.payload)
                                                    : std::span<const std::uint8_t>(digest_buffer);
  if (ecdsa && to_sign.size() != 32) return fail(ErrorCode::kInvalidArgument, "an ECDSA digest must be 32 bytes");

  store::SignatureRecord sig;
  sig.id = make_ordered_entity_id("sig");
  sig.key_id = key->id;
  sig.requester_user_id = who.id;
  sig.requester_token_id = who.token_id;
  sig.request_body = request.canonical_body;
  sig.request_digest = digest;
  sig.network = request.network;
  sig.external_id = request.external_id;
  sig.date_requested_ms = now_ms();

  const auto curve = hsm_curve_of(*key);
  auto raw = hsm_.sign(key->id, curve, to_sign);
  if (!raw) return std::unexpected(raw.error());
  if (ecdsa) {
    auto public_key = from_hex(key->public_key);
    if (!public_key) return fail(ErrorCode::kInternal, "stored public key of " + key->id + " is not hex");
    auto finished = chains::finalize_ecdsa(
        curve == hsm::Curve::kSecp256k1 ? chains::EcCurve::kSecp256k1 : chains::EcCurve::kP256, to_sign, *raw,
        *public_key);
    if (!finished) return std::unexpected(finished.error());
    sig.r = to_hex_0x(finished->r);
    sig.s = to_hex_0x(finished->s);
    sig.recid = finished->recid;
    if (request.kind == SignatureKind::kTransaction) {
      auto signed_tx = chains::serialize_signed(*request.transaction, finished->r, finished->s, finished->recid);
      if (!signed_tx) return std::unexpected(signed_tx.error());
      sig.signed_data = to_hex_0x(*signed_tx);
      sig.tx_hash = to_hex_0x(chains::tx_hash(*signed_tx));
    }
    if (evm || eip191 || evm_kind) {
      Bytes rsv(finished->r.begin(), finished->r.end());
      rsv.insert(rsv.end(), finished->s.begin(), finished->s.end());
      rsv.push_back(static_cast<std::uint8_t>(27 + finished->recid));
      sig.encoded = to_hex_0x(rsv);
    } else {
      sig.encoded = to_hex_0x(chains::der_encode(*finished));
    }
  } else {
    if (raw->size() != 64) return fail(ErrorCode::kInternal, "the HSM returned an ed25519 signature of wrong size");
    const std::span<const std::uint8_t> bytes(*raw);
    sig.r = to_hex_0x(bytes.subspan(0, 32));
    sig.s = to_hex_0x(bytes.subspan(32, 32));
    sig.encoded = to_hex_0x(bytes);
  }
  sig.status = "Signed";
  sig.date_signed_ms = now_ms();
  return Prepared{std::nullopt, std::move(sig), key->curve};
}

void KeyService::sign_async(const Principal& who, std::string_view key_id, const SignatureRequest& request,
                            SignDone done) {
  auto prepared = sign_in_hsm(who, key_id, request);
  if (!prepared) return done(std::unexpected(std::move(prepared.error())));
  if (prepared->replay) return done(std::move(*prepared->replay));

  auto signature = std::make_shared<store::SignatureRecord>(std::move(prepared->record));
  store::SignatureRecord to_store = *signature;
  auto audit = audit_entry(who, {signature->key_id, signature->id});
  store_.insert_signature_async(std::move(to_store), [this, signature, curve = std::move(prepared->curve),
                                                      done = std::move(done)](Result<void> stored) {
    if (stored) {
      metrics::registry().add("signerd_signatures_total", {{"curve", curve}});
      return done(SignOutcome{std::move(*signature), true});
    }
    // A concurrent request with the same externalId won the race: answer as a retry would.
    if (stored.error().code == ErrorCode::kConflict && signature->external_id) {
      auto existing = store_.find_signature_by_external_id(*signature->external_id);
      if (existing && *existing) return done(replay(**existing, signature->key_id, signature->request_digest));
    }
    done(std::unexpected(std::move(stored.error())));
  }, std::move(audit));
}

Result<SignOutcome> KeyService::sign(const Principal& who, std::string_view key_id, const SignatureRequest& request) {
  std::promise<Result<SignOutcome>> result;
  auto future = result.get_future();
  sign_async(who, key_id, request, [&result](Result<SignOutcome> outcome) { result.set_value(std::move(outcome)); });
  return future.get();
}

Result<store::SignatureRecord> KeyService::get_signature(const Principal& who, std::string_view key_id,
                                                         std::string_view signature_id) {
  if (auto key = get_key(who, key_id); !key) return std::unexpected(key.error());
  auto sig = store_.get_signature(key_id, signature_id);
  if (!sig) return std::unexpected(sig.error());
  if (!*sig) return fail(ErrorCode::kNotFound, "signature " + std::string(signature_id) + " not found");
  return std::move(**sig);
}

Result<store::Page<store::SignatureRecord>> KeyService::list_signatures(const Principal& who, std::string_view key_id,
                                                                        std::optional<std::int64_t> before,
                                                                        int limit) {
  if (auto key = get_key(who, key_id); !key) return std::unexpected(key.error());
  return store_.list_signatures(key_id, before, limit);
}

Result<ReconcileReport> KeyService::reconcile() {
  const auto started = std::chrono::steady_clock::now();
  auto& store_log = signerd::log(LogComponent::kStore);
  auto creating = store_.keys_with_status(store::KeyStatus::kCreating);
  if (!creating) return std::unexpected(creating.error());
  ReconcileReport report;
  for (const auto& key : *creating) {
    const auto curve = hsm_curve_of(key);
    auto point = hsm_.find_public_key(key.id, curve);
    if (!point) return std::unexpected(point.error());
    if (*point) {
      auto public_key = api_public_key(curve, **point);
      if (!public_key) {
        // A key pair signerd cannot use must not stop start-up: it becomes Failed, with the reason.
        auto r = store_.transition_key(key.id, {.from = store::KeyStatus::kCreating,
                                                .to = store::KeyStatus::kFailed,
                                                .failure_reason = public_key.error().message});
        if (!r) return std::unexpected(r.error());
        ++report.failed;
        store_log.info("store reconciled key={} status=Failed reason=\"{}\"", key.id, public_key.error().message);
        continue;
      }
      // The creator's request never got its answer; the audit trail records who finished the job.
      const auto audit = audit_entry(Principal{.id = "signerd:reconcile", .method = "RECONCILE"}, {key.id});
      auto r = store_.transition_key(key.id,
                                     {.from = store::KeyStatus::kCreating,
                                      .to = store::KeyStatus::kActive,
                                      .public_key = *public_key,
                                      .custody = creation_custody(key)},
                                     &audit);
      if (!r) return std::unexpected(r.error());
      ++report.activated;
      store_log.debug("store reconciled key={} status=Active", key.id);
    } else {
      auto r = store_.transition_key(key.id, {.from = store::KeyStatus::kCreating,
                                              .to = store::KeyStatus::kFailed,
                                              .failure_reason = "signerd stopped before the HSM created the key"});
      if (!r) return std::unexpected(r.error());
      ++report.failed;
      store_log.debug("store reconciled key={} status=Failed reason=\"no key pair in the HSM\"", key.id);
    }
  }
  store_log.info("store reconciliation keys_creating={} activated={} failed={} ms={:.1f}", creating->size(),
                 report.activated, report.failed, ms_since(started));
  return report;
}

}  // namespace signerd::core
