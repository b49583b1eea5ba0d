#pragma once
// signerd's durable metadata: keys and signature requests, in SQLite (WAL, synchronous=FULL, versioned migrations).
// The only code in signerd that includes sqlite3.h.
//
// Writes are durable when they return: each write is queued to one writer thread that commits whatever is queued
// in one transaction (group commit: one fsync for many writes), each write in its own SAVEPOINT so one failing
// write does not fail its neighbours. Callers block until their write is committed (call from worker threads).
// Reads use a small pool of read-only connections and see every write that has returned.
//
// Thread-safety: all member functions are safe to call concurrently.
// Errors: kNotFound / kConflict as documented per function; kUnavailable when SQLite reports I/O or busy failures
// (the message names the operation); kInternal for anything else. Nothing is half-written: a failed write leaves no
// trace.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/audit_chain.h"
#include "common/error.h"

namespace signerd::store {

enum class KeyStatus { kCreating, kActive, kArchived, kFailed };
const char* to_string(KeyStatus status);  // "Creating", "Active", "Archived", "Failed"

struct KeyRecord {
  std::string id;                    // "key-…"
  std::string scheme;                // "ECDSA" | "EdDSA"
  std::string curve;                 // "secp256k1" | "secp256r1" | "ed25519"
  std::string public_key;            // hex, no 0x; empty while Creating
  std::optional<std::string> name;
  KeyStatus status = KeyStatus::kCreating;
  bool custodial = true;
  std::string owner_id;              // the principal that created the key ("us-…" or "os-uid-1000")
  std::int64_t date_created_ms = 0;  // Unix epoch milliseconds
  std::optional<std::int64_t> date_deleted_ms;
  std::optional<std::string> failure_reason;  // set when status is Failed
  // Delegation (custody): the end user ("us-…") the key belongs to; custodial is then false. A key created with
  // delay_delegation stays custodial until delegate_key hands it over, once.
  std::optional<std::string> delegated_to;
  bool delay_delegation = false;
  // The legacy API's "pk-…" id of this key (unique when set): given to keys created through POST /public-keys or an
  // asset account, absent for others.
  std::optional<std::string> public_key_id;
  std::int64_t seq = 0;              // assigned by the store on insert; orders lists
};

// One entry of a key's custody history (append-only).
struct CustodyEvent {
  std::string event;                         // "CreatedCustodial" | "CreatedDelegated" | "DelegationPending" | "Delegated"
  std::optional<std::string> delegated_to;   // the end user, for CreatedDelegated and Delegated
};

struct CustodyRecord {
  std::int64_t seq = 0;
  std::string key_id;
  CustodyEvent custody;
  std::string principal_id;                  // who caused it (from the audit entry written with it)
  std::optional<std::string> token_id;
  std::int64_t audit_seq = 0;                // the audit record of the request that caused it
  std::int64_t date_ms = 0;
};

// An identity entity (org, user, credential, token, permission, assignment) kept as a JSON document. core keeps
// them all in memory and writes them through; the store only persists and loads them.
struct IdentityObject {
  std::string kind;                  // "org" | "user" | "credential" | "token" | "permission" | "assignment"
  std::string id;                    // unique within its kind
  std::string json;                  // the document
  std::int64_t seq = 0;              // assigned by the store on first insert; kept on update
};

struct SignatureRecord {
  std::string id;                    // "sig-…"
  std::string key_id;
  std::string requester_user_id;
  std::optional<std::string> requester_token_id;
  std::string request_body;          // the request as JSON text, echoed back as requestBody
  std::string request_digest;        // hex sha-256 of the canonical request, to compare externalId retries
  std::string status;                // "Signed" | "Failed"
  std::optional<std::string> reason;
  std::optional<std::string> r, s, encoded;  // "0x…" strings as the API returns them
  std::optional<int> recid;
  std::optional<std::string> network;
  std::optional<std::string> external_id;    // unique across the store when set
  std::optional<std::string> signed_data;    // transactions: the signed serialisation, "0x…"
  std::optional<std::string> tx_hash;        // transactions: keccak256 of signed_data, "0x…"
  std::int64_t date_requested_ms = 0;
  std::optional<std::int64_t> date_signed_ms;
  std::int64_t seq = 0;              // assigned by the store on insert
};

struct WalletRecord {
  std::string id;                    // "wa-…"
  std::string network;               // a Dfns network name
  std::optional<std::string> address;
  std::string key_id;                // the signing key ("key-…"); a key may back several wallets
  std::optional<std::string> name;
  std::string status = "Active";
  bool custodial = true;
  std::optional<std::string> external_id;  // a correlation field only: not unique
  std::vector<std::string> tags;
  std::string owner_id;
  std::int64_t date_created_ms = 0;
  std::int64_t seq = 0;              // assigned by the store on insert; orders lists
};

enum class AssetAccountStatus { kCreating, kEnabled, kFailed };
const char* to_string(AssetAccountStatus status);  // "Creating", "Enabled", "Failed"
std::optional<AssetAccountStatus> parse_asset_account_status(std::string_view text);

// A legacy asset account (dfns-api.md §4): the address of one key on one network, made asynchronously.
struct AssetAccountRecord {
  std::string id;                    // "aa-…"
  std::string asset_symbol;          // as the client gave it: "BTC", "USDC.MATIC"
  std::string network;               // the Dfns network the address is for ("Bitcoin", "Polygon")
  std::optional<std::string> name;
  AssetAccountStatus status = AssetAccountStatus::kCreating;
  std::optional<std::string> reason;         // why it Failed
  std::optional<std::string> key_id;         // "key-…", once known
  std::optional<std::string> public_key_id;  // "pk-…": the reused key's, or the one the new key is created under
  std::optional<std::string> address;        // once Enabled
  std::optional<std::string> external_id;    // a correlation field only: not unique
  std::vector<std::string> tags;
  std::string owner_id;
  std::int64_t date_created_ms = 0;
  std::int64_t date_updated_ms = 0;
  std::int64_t seq = 0;              // assigned by the store on insert; orders lists
};

// Smart accounts (ERC-4337; core/smart_account_service.h). Times are Unix nanoseconds.
// An application that signs smart-account requests. Its secret is only in the HSM (hmac_key_id), never here.
struct SmartAppRecord {
  std::string id;                    // the app id (uuid), X-APP-ID
  std::string client_id;             // uuid
  std::string name;
  std::string hmac_key_id;           // the HSM secret key that computes the app's HMAC-SHA256
  std::string created_by;            // the principal that created it
  std::int64_t date_created_ns = 0;
  std::optional<std::int64_t> date_revoked_ns;  // set once, by revoke_smart_app: its requests are refused for good
  std::int64_t seq = 0;
};

// One smart-account record: an owner of one app, with one gas tank.
struct SmartAccountRecord {
  std::string id;                    // 24 lowercase hex digits
  std::string app_id;
  std::string owner;                 // "0x" + 40 lowercase hex digits: with app_id, the idempotency key
  std::string owner_id;              // the owner's EIP-55 form, as shown
  std::string provider;              // "wallet"
  std::string gas_tank_id;           // 24 lowercase hex digits
  std::string gas_tank_token;        // the token's name, fixed at creation
  int gas_tank_decimals = 0;
  std::int64_t date_created_ns = 0;
  std::optional<std::int64_t> date_updated_ns;
  std::int64_t seq = 0;
};

// The smart account on one configured network.
struct SmartAccountNetworkRecord {
  std::string id;                    // 24 lowercase hex digits
  std::string smart_account_id;
  std::string network;
  std::int64_t chain_id = 0;
  std::string version;               // "0.6" | "0.7" | "0.8"
  std::string aa_address;            // EIP-55
  std::string status = "not_deployed";  // "not_deployed" | "deploying" | "deployed"
  std::optional<std::string> tx_hash;         // the deployment's ("0x" + 64 hex), once one was attempted
  std::optional<std::string> failure_reason;  // why the last attempt failed (status back to not_deployed)
  std::int64_t date_created_ns = 0;
  std::optional<std::int64_t> date_updated_ns;
  // While deploying: the signed transaction ("0x" hex), the relayer (lowercase "0x…"), its nonce, the fee reserved.
  std::optional<std::string> deploy_tx;
  std::optional<std::string> deploy_from;
  std::optional<std::int64_t> deploy_nonce;
  std::optional<std::string> deploy_fee;
  // Once deployed: the receipt's block (none when the code was found on chain without our transaction) and when.
  std::optional<std::int64_t> deployed_block;
  std::optional<std::int64_t> date_deployed_ns;
  std::int64_t seq = 0;
};

// A deployment about to be sent (Store::begin_smart_deployment).
struct SmartDeployment {
  std::string account_network_id;
  std::string tx_hash;     // "0x" + 64 lowercase hex
  std::string signed_tx;   // "0x" + hex
  std::string from;        // the relayer, "0x" + 40 lowercase hex
  std::int64_t nonce = 0;
  std::string fee;         // canonical amount to reserve ("0" allowed)
  std::string reserve_entry_id;
  std::int64_t date_ns = 0;
};

// How a deployment ended (Store::finish_smart_deployment).
struct SmartDeploymentOutcome {
  bool deployed = false;
  std::optional<std::int64_t> block;  // deployed: the receipt's block
  std::string reason;                 // failed: why, for the account's failure_reason
  std::string release_entry_id;       // failed: the id of the "release" ledger entry
  std::int64_t date_ns = 0;
};

// One entry of a gas tank's ledger (append-only). Amounts are decimal strings of the token's smallest unit.
struct GasTankEntry {
  std::string id;                    // 24 lowercase hex digits
  std::string gas_tank_id;
  std::string kind;                  // "deposit" | "release" (added) | "reserve" (taken)
  std::string amount;                // a canonical amount, added or taken as `kind` says
  std::string balance_after;         // the tank's balance with this entry
  std::optional<std::string> account_network_id;
  std::int64_t date_ns = 0;
  std::int64_t seq = 0;
};

// One page of a list, newest first. `next_cursor` is set when more items follow; pass it back as `before`.
template <class T>
struct Page {
  std::vector<T> items;
  std::optional<std::int64_t> next_cursor;
};

struct StoreOptions {
  unsigned read_connections = 4;
  unsigned max_batch = 512;  // writes per group commit at most
};

// Statistics for metrics and benchmarks.
struct StoreStats {
  std::uint64_t commits = 0;
  std::uint64_t writes = 0;  // writes committed; writes / commits = mean batch size
};

class Store {
 public:
  // Opens (creating if needed) the database file and applies pending migrations. The directory must exist.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path, StoreOptions options = {});
  ~Store();  // drains queued writes, then closes

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- keys
  Result<void> insert_key(const KeyRecord& key);  // kConflict when the id exists
  Result<std::optional<KeyRecord>> get_key(std::string_view id);
  // Excludes Creating and Failed. With `delegated_to`, only the keys delegated to that user.
  Result<Page<KeyRecord>> list_keys(std::optional<std::int64_t> before, int limit,
                                    std::optional<std::string_view> delegated_to = std::nullopt);
  Result<std::vector<KeyRecord>> keys_with_status(KeyStatus status);              // for start-up reconciliation
  // Moves a key from `from` to `to` and sets the given fields (public key when activating, date_deleted when
  // archiving, reason when failing). kNotFound when no such key; kConflict when its status is not `from`.
  // Every write below that takes `audit` appends that audit record (affected ids as given) in the same transaction
  // as the change, and `custody` (when given) as a custody record linked to it; both vanish if the change fails.
  struct KeyTransition {
    KeyStatus from;
    KeyStatus to;
    std::optional<std::string> public_key;
    std::optional<std::int64_t> date_deleted_ms;
    std::optional<std::string> failure_reason;
    std::optional<CustodyEvent> custody;   // written only together with an audit record
  };
  Result<KeyRecord> transition_key(std::string_view id, const KeyTransition& t, const AuditEntry* audit = nullptr);
  Result<KeyRecord> rename_key(std::string_view id, std::optional<std::string> name,
                               const AuditEntry* audit = nullptr);  // kNotFound
  // Hands a key created with delay_delegation to `user_id`: delegated_to set, custodial false, custody record
  // "Delegated". kNotFound when no such key; kInvalidArgument when the key is not Active, was not created with
  // delay_delegation, or is already delegated (delegation happens once and is one-way).
  Result<KeyRecord> delegate_key(std::string_view id, std::string_view user_id, const AuditEntry& audit);
  // The key's custody history, oldest first.
  Result<std::vector<CustodyRecord>> custody_of_key(std::string_view key_id);

  // --- signatures
  // kConflict when external_id is already bound; the error's details then hold {"duplicate":{"id","externalId"}}.
  Result<void> insert_signature(const SignatureRecord& sig, const AuditEntry* audit = nullptr);
  // The same without blocking: `done` runs on the store's writer thread once the write is durable (or failed). It
  // must be quick and must not call the store's blocking writes.
  void insert_signature_async(SignatureRecord sig, std::function<void(Result<void>)> done,
                              std::optional<AuditEntry> audit = std::nullopt);
  Result<std::optional<SignatureRecord>> get_signature(std::string_view key_id, std::string_view signature_id);
  Result<std::optional<SignatureRecord>> find_signature_by_external_id(std::string_view external_id);
  Result<Page<SignatureRecord>> list_signatures(std::string_view key_id, std::optional<std::int64_t> before,
                                                int limit);

  // --- wallets
  // kConflict when the id exists; kNotFound when the key does not exist.
  Result<void> insert_wallet(const WalletRecord& wallet, const AuditEntry* audit = nullptr);
  Result<std::optional<WalletRecord>> get_wallet(std::string_view id);
  // Newest first. With `delegated_to`, only wallets whose key is delegated to that user.
  Result<Page<WalletRecord>> list_wallets(std::optional<std::int64_t> before, int limit,
                                          std::optional<std::string_view> delegated_to = std::nullopt);
  Result<std::vector<WalletRecord>> list_wallets_for_key(std::string_view key_id);       // oldest first
  // Fields to change: an engaged outer optional sets the field (to a value, or clears it with nullopt).
  struct WalletUpdate {
    std::optional<std::optional<std::string>> name;
    std::optional<std::optional<std::string>> external_id;
  };
  Result<WalletRecord> update_wallet(std::string_view id, const WalletUpdate& update,
                                    const AuditEntry* audit = nullptr);  // kNotFound
  Result<WalletRecord> set_wallet_tags(std::string_view id, const std::vector<std::string>& tags,
                                       const AuditEntry* audit = nullptr);  // kNotFound

  // --- asset accounts and public keys (the legacy API)
  // The key with this public key id, in any status; nullopt when none.
  Result<std::optional<KeyRecord>> get_key_by_public_key_id(std::string_view public_key_id);
  // Keys that have a public key id, Active and Archived only, newest first.
  Result<Page<KeyRecord>> list_public_keys(std::optional<std::int64_t> before, int limit);
  // kConflict when the id exists; kNotFound when key_id names no key.
  Result<void> insert_asset_account(const AssetAccountRecord& account, const AuditEntry* audit = nullptr);
  Result<std::optional<AssetAccountRecord>> get_asset_account(std::string_view id);
  // Newest first; with `status`, only accounts in that status.
  Result<Page<AssetAccountRecord>> list_asset_accounts(std::optional<AssetAccountStatus> status,
                                                       std::optional<std::int64_t> before, int limit);
  Result<std::vector<AssetAccountRecord>> asset_accounts_with_status(AssetAccountStatus status);  // oldest first
  // How a Creating account ends: Enabled with its key and address, or Failed with a reason.
  struct AssetAccountOutcome {
    AssetAccountStatus status = AssetAccountStatus::kEnabled;  // kEnabled or kFailed
    std::optional<std::string> reason;
    std::optional<std::string> key_id;         // nullopt keeps the recorded one
    std::optional<std::string> public_key_id;  // nullopt keeps the recorded one
    std::optional<std::string> address;
    std::int64_t date_updated_ms = 0;
  };
  // kNotFound when no such account; kConflict when it is not Creating (it finished already); kNotFound when key_id
  // names no key.
  Result<AssetAccountRecord> finish_asset_account(std::string_view id, const AssetAccountOutcome& outcome,
                                                  const AuditEntry* audit = nullptr);
  // Gives a Creating account whose key is not known yet another public key id to create its key under (the first
  // attempt's key Failed). kNotFound when no such account; kConflict when it is not Creating or has its key.
  Result<AssetAccountRecord> replan_asset_account_key(std::string_view id, std::string_view public_key_id,
                                                      std::int64_t date_updated_ms, const AuditEntry* audit = nullptr);

  // --- smart accounts (see SmartAccountRecord)
  // kConflict when the id, client id or HSM key id exists.
  Result<void> insert_smart_app(const SmartAppRecord& app, const AuditEntry* audit = nullptr);
  Result<std::optional<SmartAppRecord>> get_smart_app(std::string_view id);  // revoked apps included
  // Every app, newest first, revoked ones included.
  Result<Page<SmartAppRecord>> list_smart_apps(std::optional<std::int64_t> before, int limit);
  // Sets the app's date_revoked_ns and returns the app as written. kNotFound when no such app; kConflict when it is
  // already revoked (its first date stays). The HSM key is the caller's to destroy, after this returns.
  Result<SmartAppRecord> revoke_smart_app(std::string_view id, std::int64_t date_ns, const AuditEntry* audit = nullptr);
  // Creates `account` with `networks` unless its app already has an account for the owner; either way adds the
  // networks the record does not have yet (a network configured since), and returns the record and whether it was
  // created. `audit` is appended only when something was written. One write, so concurrent duplicates end with one
  // record. kNotFound when the app does not exist.
  struct SmartAccountCreated {
    SmartAccountRecord account;
    bool created = false;
  };
  Result<SmartAccountCreated> create_or_get_smart_account(const SmartAccountRecord& account,
                                                          const std::vector<SmartAccountNetworkRecord>& networks,
                                                          const AuditEntry* audit = nullptr);
  Result<std::optional<SmartAccountRecord>> get_smart_account(std::string_view id);
  // An app's records, newest first; with `owner` (lowercase "0x…"), only that owner's (at most one).
  Result<Page<SmartAccountRecord>> list_smart_accounts(std::string_view app_id,
                                                       std::optional<std::string_view> owner,
                                                       std::optional<std::int64_t> before, int limit);
  Result<std::vector<SmartAccountNetworkRecord>> smart_account_networks(std::string_view smart_account_id);
  // The tank's newest ledger entry (its balance); nullopt for a tank with no entries (balance "0").
  Result<std::optional<GasTankEntry>> last_gas_tank_entry(std::string_view gas_tank_id);
  // Appends `entry` with balance_after = next_balance(the previous balance_after, "0" for the first entry),
  // computed inside the write, so concurrent appends chain correctly. next_balance's error fails the append.
  Result<GasTankEntry> append_gas_tank_entry(
      GasTankEntry entry, const std::function<Result<std::string>(const std::string& balance_before)>& next_balance,
      const AuditEntry* audit = nullptr);
  Result<Page<GasTankEntry>> list_gas_tank_entries(std::string_view gas_tank_id, std::optional<std::int64_t> before,
                                                   int limit);
  // Activation (core/smart_deployer.h). In one write: the account must be not_deployed (kConflict naming its status;
  // kNotFound when there is no such account), its gas tank gets a "reserve" entry of `deployment.fee` with
  // balance_after = reserve(balance before) (its error, e.g. a balance below the fee, fails the write: nothing is
  // written), and the account becomes deploying with the transaction recorded. Returns the account as written.
  Result<SmartAccountNetworkRecord> begin_smart_deployment(
      const SmartDeployment& deployment, const std::function<Result<std::string>(const std::string& balance)>& reserve,
      const AuditEntry* audit = nullptr);
  // In one write: the account must be deploying with tx_hash `tx_hash` (kConflict otherwise: the attempt was already
  // finished). Deployed: status deployed with the block. Failed: back to not_deployed with the reason, the deploy_*
  // fields cleared, and a "release" ledger entry of the reserved fee with balance_after = release(balance before,
  // fee).
  Result<SmartAccountNetworkRecord> finish_smart_deployment(
      std::string_view account_network_id, std::string_view tx_hash, const SmartDeploymentOutcome& outcome,
      const std::function<Result<std::string>(const std::string& balance, const std::string& fee)>& release,
      const AuditEntry* audit = nullptr);
  // not_deployed -> deployed without a transaction of ours and without a charge: the account's code was found on
  // chain. kConflict when the account is not not_deployed.
  Result<SmartAccountNetworkRecord> mark_smart_account_deployed(std::string_view account_network_id,
                                                                std::int64_t date_ns,
                                                                const AuditEntry* audit = nullptr);
  // Records an accepted app request signature until forget_after_ns (and drops those past `now_ns`): true when it
  // is new, false when it was already recorded (a replay). Durable before it returns.
  Result<bool> remember_smart_request(std::string_view app_id, std::string_view signature,
                                      std::int64_t forget_after_ns, std::int64_t now_ns);
  Result<std::optional<SmartAccountNetworkRecord>> get_smart_account_network(std::string_view account_network_id);
  // Every account in `status` ("deploying": what the watcher follows), oldest first.
  Result<std::vector<SmartAccountNetworkRecord>> smart_accounts_in_status(std::string_view status);

  // --- identity (see IdentityObject)
  // Inserts or replaces each object (by kind and id) and appends `audit`, all in one transaction.
  Result<void> put_identity_objects(const std::vector<IdentityObject>& objects, const AuditEntry* audit);
  Result<std::vector<IdentityObject>> load_identity_objects();  // every object, oldest first

  // --- audit trail (common/audit_chain.h)
  // Appends a record on its own: for requests that changed nothing (refused or failed) but are still audited.
  Result<void> append_audit(const AuditEntry& entry);
  // The same without blocking (callable from the writer thread's callbacks); `done`, if any, runs on the writer
  // thread.
  void append_audit_async(AuditEntry entry, std::function<void(Result<void>)> done = {});
  Result<Page<AuditRecord>> list_audit(std::optional<std::int64_t> before, int limit);  // newest first
  // The seq of the newest record (records are numbered from 1 without gaps): 0 for an empty trail. One index lookup.
  Result<std::int64_t> audit_length();

  StoreStats stats() const;

  // Runs a probe through the writer (BEGIN IMMEDIATE takes the write lock, nothing is written): succeeds when the
  // database accepts writes now. For readiness checks; not counted as a write in stats() or the store metrics.
  Result<void> check_writable();

 private:
  friend struct StoreTestPeer;  // store/testing.h: lets unit tests inspect the writer connection and shape batches
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace signerd::store
