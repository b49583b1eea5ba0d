#include "core/asset_account_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "common/ids.h"
#include "common/log.h"
#include "common/time_format.h"
#include "core/public_key_service.h"

namespace signerd::core {
namespace {

std::int64_t now_ms() { return to_unix_millis(std::chrono::system_clock::now()); }

spdlog::logger& api_log() { return signerd::log(LogComponent::kApi); }

// Pages of this size are read until the list ends: the legacy list is not paginated.
constexpr int kListPage = 500;

// Who a job acts for: the account's creator, through the job (the audit records name the method "JOB" and the
// account, as reconciliation's name "RECONCILE").
Principal job_principal(const store::AssetAccountRecord& account) {
  Principal p;
  p.id = account.owner_id;
  p.method = "JOB";
  p.path = "/assets/asset-accounts/" + account.id;
  return p;
}

bool usable(const store::KeyRecord& key) {
  return key.status == store::KeyStatus::kActive || key.status == store::KeyStatus::kArchived;
}

}  // namespace

AssetAccountService::AssetAccountService(KeyService& keys, store::Store& store, AssetAccountOptions options)
    : keys_(keys), store_(store), options_(std::move(options)) {}

AssetAccountService::~AssetAccountService() { stop(); }

Result<ResumeReport> AssetAccountService::start() {
  auto creating = store_.asset_accounts_with_status(store::AssetAccountStatus::kCreating);
  if (!creating) return std::unexpected(creating.error());
  std::lock_guard lock(mutex_);
  if (started_) return fail(ErrorCode::kInternal, "asset accounts: start() called twice");
  started_ = true;
  for (const auto& account : *creating) {
    // A job queued by create() before start() is already in the queue.
    if (std::any_of(queue_.begin(), queue_.end(), [&](const Job& j) { return j.account_id == account.id; })) continue;
    queue_.push_back({account.id, true});
    ++pending_;
  }
  for (unsigned i = 0; i < std::max(1u, options_.workers); ++i) workers_.emplace_back([this] { work(); });
  return ResumeReport{static_cast<unsigned>(creating->size())};
}

void AssetAccountService::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

std::size_t AssetAccountService::pending() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

void AssetAccountService::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // queued accounts stay Creating: the next start() resumes them
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      run(job);
    } catch (const std::exception& e) {
      // make_entity_id throws when the system's random generator fails; the account is resumed at the next start.
      if (options_.on_problem) options_.on_problem("asset account " + job.account_id + ": " + e.what());
    }
    std::lock_guard lock(mutex_);
    --pending_;
  }
}

Result<AssetAccount> AssetAccountService::create(const Principal& who, const CreateAssetAccountRequest& request) {
  if (auto r = require_org_principal(who, "asset accounts"); !r) return std::unexpected(r.error());
  auto symbol = parse_asset_symbol(request.asset_symbol);
  if (!symbol) return std::unexpected(symbol.error());

  store::AssetAccountRecord account;
  account.id = make_entity_id("aa");
  account.asset_symbol = symbol->symbol;
  account.network = symbol->network.network;
  account.name = request.name;
  account.status = store::AssetAccountStatus::kCreating;
  account.external_id = request.external_id;
  for (const auto& tag : request.tags) {
    if (std::find(account.tags.begin(), account.tags.end(), tag) == account.tags.end()) account.tags.push_back(tag);
  }
  account.owner_id = who.id;
  account.date_created_ms = now_ms();
  account.date_updated_ms = account.date_created_ms;

  std::optional<store::KeyRecord> reused;
  if (request.public_key_id) {
    const std::string& pk = *request.public_key_id;
    auto key = store_.get_key_by_public_key_id(pk);
    if (!key) return std::unexpected(key.error());
    if (!*key || !usable(**key)) return fail(ErrorCode::kNotFound, "public key " + pk + " not found");
    if ((*key)->status == store::KeyStatus::kArchived) {
      return fail(ErrorCode::kInvalidArgument,
                  "public key " + pk + " is disabled (key " + (*key)->id + " is archived)");
    }
    if ((*key)->curve != symbol->network.curve) {
      return fail(ErrorCode::kInvalidArgument, "public key " + pk + " is a " + (*key)->curve + " key; " +
                                                   symbol->symbol + " needs curve " + symbol->network.curve);
    }
    if (auto r = KeyService::check_access(who, **key, true); !r) return std::unexpected(r.error());
    account.key_id = (*key)->id;
    account.public_key_id = pk;
    reused = std::move(**key);
  } else {
    // The new key's public key id, chosen now so that a resumed job can tell whether its key was made.
    account.public_key_id = make_entity_id("pk");
  }

  {
    std::lock_guard lock(mutex_);
    if (stopping_) return fail(ErrorCode::kUnavailable, "signerd is stopping; retry later");
    if (pending_ >= options_.max_pending) {
      return fail(ErrorCode::kResourceExhausted,
                  "too many asset accounts are being created (" + std::to_string(pending_) + "); retry later");
    }
    ++pending_;  // reserved before the write, so concurrent requests cannot overshoot the limit
  }
  std::vector<std::string> affected{account.id, *account.public_key_id};
  if (account.key_id) affected.push_back(*account.key_id);
  const auto audit = audit_entry(who, std::move(affected));
  if (auto inserted = store_.insert_asset_account(account, &audit); !inserted) {
    std::lock_guard lock(mutex_);
    --pending_;
    return std::unexpected(inserted.error());
  }
  // The reply is the account as created (Creating), read back before the worker may take it: read after, it
  // could already be Enabled, depending on which thread ran first.
  auto stored = store_.get_asset_account(account.id);
  if (stored && *stored) account = **stored;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({account.id, false});
  }
  wake_.notify_one();
  api_log().info("asset account created account={} symbol={} public_key={} reused_key={} principal={}", account.id,
                 account.asset_symbol, *account.public_key_id, reused.has_value(), who.id);
  return AssetAccount{std::move(account), std::move(reused)};
}

void AssetAccountService::run(const Job& job) {
  auto account = store_.get_asset_account(job.account_id);
  if (!account) {
    if (options_.on_problem) {
      options_.on_problem("asset account " + job.account_id + ": cannot read it (" + account.error().message +
                          "); it is resumed at the next start");
    }
    return;
  }
  if (!*account || (*account)->status != store::AssetAccountStatus::kCreating) return;
  auto symbol = parse_asset_symbol((*account)->asset_symbol);
  if (!symbol) return fail_account(**account, symbol.error().message);
  finish(**account, key_for(**account, *symbol, job.resumed), *symbol);
}

Result<store::KeyRecord> AssetAccountService::key_for(const store::AssetAccountRecord& account,
                                                      const AssetSymbol& symbol, bool resumed) {
  if (account.key_id) {
    // A reused public key: checked at creation; it may have been archived since.
    auto key = keys_.lookup(*account.key_id);
    if (!key) return key;
    if (key->status != store::KeyStatus::kActive) {
      return fail(ErrorCode::kInvalidArgument, "key " + key->id + " was archived before the account was made");
    }
    return key;
  }
  if (!account.public_key_id) return fail(ErrorCode::kInternal, "the account has neither a key nor a public key id");
  std::string public_key_id = *account.public_key_id;
  auto existing = store_.get_key_by_public_key_id(public_key_id);
  if (!existing) return std::unexpected(existing.error());
  if (*existing) {
    const store::KeyRecord& key = **existing;
    if (key.status == store::KeyStatus::kActive) return key;  // made by an earlier run of this job
    if (key.status != store::KeyStatus::kFailed || !resumed) {
      return fail(ErrorCode::kInternal, "key " + key.id + " is " + store::to_string(key.status) +
                                            (key.failure_reason ? ": " + *key.failure_reason : std::string()));
    }
    // The previous run stopped before the HSM made the key (reconcile() marked it Failed): try again, under a new
    // public key id (the failed key keeps the old one).
    public_key_id = make_entity_id("pk");
    const auto audit = audit_entry(job_principal(account), {account.id, public_key_id, key.id});
    auto replanned = store_.replan_asset_account_key(account.id, public_key_id, now_ms(), &audit);
    if (!replanned) return std::unexpected(replanned.error());
  }
  CreateKeyRequest request;
  request.scheme = symbol.network.curve == "ed25519" ? "EdDSA" : "ECDSA";
  request.curve = symbol.network.curve;
  request.public_key_id = public_key_id;
  return keys_.create_key(job_principal(account), request);
}

void AssetAccountService::finish(const store::AssetAccountRecord& account, const Result<store::KeyRecord>& key,
                                 const AssetSymbol& symbol) {
  // When the store itself is failing, recording Failed fails too and the account is resumed at the next start.
  if (!key) return fail_account(account, "key creation failed: " + key.error().message);
  auto address = legacy_address(symbol.network, key->curve, key->public_key);
  if (!address) return fail_account(account, address.error().message);
  store::Store::AssetAccountOutcome outcome;
  outcome.status = store::AssetAccountStatus::kEnabled;
  outcome.key_id = key->id;
  outcome.public_key_id = key->public_key_id;
  outcome.address = std::move(*address);
  outcome.date_updated_ms = now_ms();
  const auto audit = audit_entry(job_principal(account), {account.id, key->id});
  auto finished = store_.finish_asset_account(account.id, outcome, &audit);
  if (!finished && options_.on_problem) {
    options_.on_problem("asset account " + account.id + ": cannot record it Enabled (" + finished.error().message +
                        "); it is resumed at the next start");
  }
  if (finished) api_log().info("asset account enabled account={} key={}", account.id, key->id);
}

void AssetAccountService::fail_account(const store::AssetAccountRecord& account, std::string reason) {
  api_log().warn("asset account failed account={} reason=\"{}\"", account.id, reason);
  store::Store::AssetAccountOutcome outcome;
  outcome.status = store::AssetAccountStatus::kFailed;
  outcome.reason = std::move(reason);
  outcome.date_updated_ms = now_ms();
  const auto audit = audit_entry(job_principal(account), {account.id});
  if (auto finished = store_.finish_asset_account(account.id, outcome, &audit); !finished && options_.on_problem) {
    options_.on_problem("asset account " + account.id + ": cannot record it Failed (" + finished.error().message +
                        "); it is resumed at the next start");
  }
}

Result<AssetAccount> AssetAccountService::with_key(store::AssetAccountRecord account) {
  std::optional<store::KeyRecord> key;
  if (account.key_id) {
    auto found = keys_.lookup(*account.key_id);
    if (!found) return fail(ErrorCode::kInternal, "asset account " + account.id + ": " + found.error().message);
    key = std::move(*found);
  }
  return AssetAccount{std::move(account), std::move(key)};
}

Result<AssetAccount> AssetAccountService::get(const Principal& who, std::string_view id) {
  if (auto r = require_org_principal(who, "asset accounts"); !r) return std::unexpected(r.error());
  auto account = store_.get_asset_account(id);
  if (!account) return std::unexpected(account.error());
  if (!*account) return fail(ErrorCode::kNotFound, "asset account " + std::string(id) + " not found");
  return with_key(std::move(**account));
}

Result<std::vector<AssetAccount>> AssetAccountService::list(const Principal& who,
                                                            std::optional<store::AssetAccountStatus> status) {
  if (auto r = require_org_principal(who, "asset accounts"); !r) return std::unexpected(r.error());
  std::vector<AssetAccount> out;
  std::optional<std::int64_t> before;
  do {
    auto page = store_.list_asset_accounts(status, before, kListPage);
    if (!page) return std::unexpected(page.error());
    for (auto& account : page->items) {
      auto full = with_key(std::move(account));
      if (!full) return std::unexpected(full.error());
      out.push_back(std::move(*full));
    }
    before = page->next_cursor;
  } while (before);
  return out;
}

}  // namespace signerd::core
