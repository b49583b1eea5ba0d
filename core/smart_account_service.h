#pragma once
// The rules for smart accounts (ERC-4337; ../shared/reference/smart-accounts.md and issue 5): applications and their
// request signatures, smart-account records with one account per configured network at its counterfactual address,
// gas tanks funded through a ledger, and activation (deployment itself: core/smart_deployer.h).
//
// Applications: create_app makes an app id and client id (uuids) and a 32-byte random secret, imports the secret
// into the HSM as an HMAC key and records the app; the secret is returned once and never again (the store does
// not hold it). A crash between the HSM import and the record leaves an unused HSM object and no app. revoke_app
// records the revocation first and destroys the HSM key after, so a crash in between leaves a revoked app with an
// unused HSM object, never an app that signs without a record saying whether it may.
//
// Networks: the set in force is the deployer's (SmartDeployer::networks(), replaced whole by a reload); each call
// takes it once, so a request sees one list from start to end.
//
// Thread-safety: every member function may be called from many threads at once; all of them block (HSM, store).
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/principal.h"
#include "hsm/hsm.h"
#include "smart/app_signature.h"
#include "smart/network.h"
#include "smart/user_operation.h"
#include "store/store.h"

namespace signerd::core {

// 24 lowercase hex digits (96 random bits): the ids of records, accounts, tanks and ledger entries.
std::string new_smart_record_id();
// Now, in Unix nanoseconds (smart-account times).
std::int64_t now_unix_ns();

class SmartDeployer;

// The v0.8 activation UserOperation and the hash its owner signs.
struct SmartDeployerUserOp {
  smart::PackedUserOperation op;
  chains::Hash256 hash{};
  chains::EvmAddress entry_point{};
  std::uint64_t chain_id = 0;
};

struct GasTankToken {
  std::string name = "USDT";
  int decimals = 6;
};

struct CreatedSmartApp {
  store::SmartAppRecord app;
  std::string secret_hex;  // 64 lowercase hex digits; shown once
};

// A record with everything the API shows.
struct SmartAccount {
  store::SmartAccountRecord record;
  std::string client_id;
  std::vector<store::SmartAccountNetworkRecord> accounts;
  std::string balance = "0";
  std::optional<std::int64_t> gas_tank_updated_ns;  // the newest ledger entry's date
};

class SmartAccountService {
 public:
  // `deployer`, which holds the networks in force, must outlive the service. At most `max_concurrent_activations`
  // activations run at once (they wait on JSON-RPC nodes on the caller's thread); activate() refuses more.
  SmartAccountService(hsm::Hsm& hsm, store::Store& store, GasTankToken token, SmartDeployer& deployer,
                      unsigned max_concurrent_activations = 2)
      : hsm_(hsm),
        store_(store),
        token_(std::move(token)),
        deployer_(deployer),
        max_activations_(max_concurrent_activations) {}

  // For the local administrator only (kPermissionDenied for anyone else). kInvalidArgument for an empty name or one
  // longer than 128 bytes.
  Result<CreatedSmartApp> create_app(const Principal& who, std::string_view name);
  // Every app, newest first, revoked ones included (date_revoked_ns set). No secret: only the HSM holds them. For
  // the local administrator only (kPermissionDenied); kInvalidArgument for a limit below 1.
  Result<store::Page<store::SmartAppRecord>> list_apps(const Principal& who, std::optional<std::int64_t> before,
                                                       int limit);
  // Revokes the app for good and returns it: the revocation is recorded (with `who`'s audit record), then the app's
  // HMAC key is destroyed in the HSM. From the record on, authenticate() refuses the app as it refuses an unknown
  // one; a request already past authenticate() may still finish. For the local administrator only
  // (kPermissionDenied, checked before anything is looked up); kNotFound for an unknown app; kConflict when it is
  // already revoked (its HSM key is destroyed again then, in case the first revocation stopped before doing so).
  // A failure to destroy the key after the record is logged, not returned: the app is revoked either way.
  Result<store::SmartAppRecord> revoke_app(const Principal& who, std::string_view id);

  // Checks an app-signed request (smart/app_signature.h) and returns its app. kUnauthenticated for every failure; a
  // revoked app is refused with the same message as an unknown one ("X-APP-ID names no application").
  Result<store::SmartAppRecord> authenticate(const smart::AppRequest& request);

  // Creates the owner's record for `app`, or returns the one it has (created = false). `owner`: "0x" + 40 hex
  // digits, EIP-55 when mixed case; `provider`: "wallet". kInvalidArgument for a bad owner or provider, or when no
  // network is configured. `who` is the request as audited.
  struct Created {
    SmartAccount account;
    bool created = false;
  };
  Result<Created> create_account(const store::SmartAppRecord& app, const Principal& who, std::string_view owner,
                                 std::string_view provider);
  // kNotFound unless the record exists and belongs to `app`.
  Result<SmartAccount> get_account(const store::SmartAppRecord& app, std::string_view id);
  // Newest first; with `owner` (an address), only that owner's record.
  Result<store::Page<SmartAccount>> list_accounts(const store::SmartAppRecord& app,
                                                  std::optional<std::string_view> owner,
                                                  std::optional<std::int64_t> before, int limit);
  // Credits the gas tank with `amount` (smart/amount.h: a canonical uint256 decimal string, > 0): one ledger entry.
  // kNotFound for an unknown record or tank; kInvalidArgument for a bad amount or a balance that would overflow.
  struct Deposit {
    store::GasTankEntry entry;
    SmartAccount account;
  };
  Result<Deposit> deposit(const store::SmartAppRecord& app, const Principal& who, std::string_view id,
                          std::string_view gas_tank_id, std::string_view amount);
  // Activation of one network's account (core/smart_deployer.h does the deployment). Checked first, in this
  // order, with nothing written: kNotFound for an unknown record or account; kInvalidArgument when the account is
  // not not_deployed, or when the gas tank does not cover the network's activation fee (details: network, balance,
  // activationFee, tokenName, decimals); kUnavailable when the network is no longer configured, is configured with
  // another chain, version or address derivation than the account was made with (a restart with such a change),
  // or has no rpc_url (or no relayer_key_id); kUnavailable too, at once, when max_concurrent_activations are
  // already running (details: maxConcurrentActivations): retry later.
  // v0.8 is two calls: without `signature` the reply carries the UserOperation and the hash the owner signs
  // (to_sign; nothing is written); with it (65 bytes hex, r || s || v, over that hash with no prefix), the signature
  // must recover the owner (kInvalidArgument otherwise). v0.6/v0.7 take no signature (kInvalidArgument when given).
  // Then the deployment starts (SmartDeployer::deploy, with its errors).
  struct Activation {
    SmartAccount account;                 // as it is now
    std::string account_id;               // the network account activated
    std::optional<SmartDeployerUserOp> to_sign;
    bool started = false;                 // the deployment was recorded (deploying)
    bool sent = false;                    // ... and the node accepted the transaction
    bool on_chain = false;                // the code was already there: deployed, nothing charged
  };
  Result<Activation> activate(const store::SmartAppRecord& app, const Principal& who, std::string_view id,
                              std::string_view account_id, std::optional<std::string_view> signature);

  const GasTankToken& token() const { return token_; }

 private:
  Result<SmartAccount> complete(store::SmartAccountRecord record, std::string client_id);
  Result<SmartAccount> owned(const store::SmartAppRecord& app, std::string_view id);

  hsm::Hsm& hsm_;
  store::Store& store_;
  const GasTankToken token_;
  SmartDeployer& deployer_;
  const unsigned max_activations_;
  std::atomic<unsigned> activations_{0};  // running now
  smart::AppSignatureVerifier verifier_;
};

}  // namespace signerd::core
