#pragma once
// The legacy asset accounts (dfns-api.md §4): an asset account is the address of one key on the network of its asset
// symbol. Creating one is asynchronous, as in Dfns: create() checks the request, records the account as Creating
// (durable, with its audit record) and returns at once; a job then creates the key (or takes the reused public key's),
// derives the address and records the account Enabled, or Failed with a reason.
//
// Jobs wait in one FIFO queue served by a small pool of threads of this service's own, so HSM key generation never
// runs on the API's workers and many requests are served in the order they came. At most `max_pending` accounts are
// queued or being made at once: past that create() is kResourceExhausted (429) and records nothing.
//
// Crashes: a new account's key is created under a public key id chosen before the account is recorded
// (AssetAccountRecord::public_key_id), so the job can always tell whether its key exists. start() re-queues every
// account a previous run left Creating. A resumed job uses the key if it became Active, and creates it anew under a
// fresh public key id if start-up's KeyService::reconcile() marked it Failed (the previous run stopped before the HSM
// made it); any other failure fails the account. So no account stays Creating beyond the next start.
//
// Asset accounts are the organisation's: end users get kPermissionDenied.
//
// Thread-safety: every member function may be called from many threads at once; create(), get() and list() block on
// the store. stop() must not be called from a job.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"
#include "core/asset_symbols.h"
#include "core/key_service.h"
#include "core/principal.h"
#include "store/store.h"

namespace signerd::core {

struct CreateAssetAccountRequest {
  std::string asset_symbol;  // "<SYMBOL>[.<NETWORK>]"
  std::optional<std::string> name;
  std::optional<std::string> public_key_id;  // "pk-…": reuse that key instead of creating one
  std::optional<std::string> external_id;
  std::vector<std::string> tags;
};

// An account with its key once it has one (for publicKey), as the API shows it.
struct AssetAccount {
  store::AssetAccountRecord account;
  std::optional<store::KeyRecord> key;
};

struct AssetAccountOptions {
  std::size_t max_pending = 64;  // accounts queued or being made; more is kResourceExhausted
  unsigned workers = 2;          // jobs run at once (each holds an HSM session while it generates a key)
  // Told, from a job's thread, when a job cannot record its outcome (the account then stays Creating until the next
  // start resumes it). Must be quick and thread-safe; may be empty.
  std::function<void(const std::string&)> on_problem;
};

struct ResumeReport {
  unsigned resumed = 0;  // Creating accounts re-queued
};

class AssetAccountService {
 public:
  AssetAccountService(KeyService& keys, store::Store& store, AssetAccountOptions options);
  ~AssetAccountService();  // stop()

  AssetAccountService(const AssetAccountService&) = delete;
  AssetAccountService& operator=(const AssetAccountService&) = delete;

  // Re-queues the accounts a previous run left Creating (oldest first; they may exceed max_pending) and starts the
  // workers. Call once, after KeyService::reconcile() and before serving.
  Result<ResumeReport> start();
  // Stops taking jobs from the queue and waits for the running ones to finish. Queued accounts stay Creating in the
  // store; the next start() resumes them. create() is kUnavailable afterwards.
  void stop();

  // kInvalidArgument: an unknown or unsupported asset symbol, a reused public key whose curve does not fit the
  // network or that is disabled; kNotFound: an unknown public key; kResourceExhausted: too many accounts pending.
  // The permissions (AssetAccounts:Create, and PublicKeys:Create without public_key_id) are the caller's to check.
  Result<AssetAccount> create(const Principal& who, const CreateAssetAccountRequest& request);
  Result<AssetAccount> get(const Principal& who, std::string_view id);  // kNotFound
  // Every account, newest first; with `status`, only those in it.
  Result<std::vector<AssetAccount>> list(const Principal& who, std::optional<store::AssetAccountStatus> status);

  std::size_t pending() const;  // queued or running jobs

 private:
  struct Job {
    std::string account_id;
    bool resumed = false;  // re-queued at start-up
  };
  void work();
  void run(const Job& job);
  // Finishes the account: Enabled with the key and its address, or Failed with `reason`.
  void finish(const store::AssetAccountRecord& account, const Result<store::KeyRecord>& key, const AssetSymbol& symbol);
  void fail_account(const store::AssetAccountRecord& account, std::string reason);
  Result<store::KeyRecord> key_for(const store::AssetAccountRecord& account, const AssetSymbol& symbol, bool resumed);
  Result<AssetAccount> with_key(store::AssetAccountRecord account);

  KeyService& keys_;
  store::Store& store_;
  const AssetAccountOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;    // guarded by mutex_
  std::size_t pending_ = 0;  // guarded by mutex_: queue_.size() + running jobs
  bool stopping_ = false;    // guarded by mutex_
  bool started_ = false;     // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace signerd::core
