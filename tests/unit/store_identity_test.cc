// The store's identity data (schema v4): the audit chain appended inside each audited write, custody history,
// delegation, the delegated_to filters on key lists, and identity objects. Real SQLite files in a temp dir.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/audit_chain.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "store/testing.h"
#include "tests/support/softhsm_token.h"
#include "tests/unit/store_query_plans.h"

namespace signerd::store {
namespace {

constexpr std::int64_t kCreatedMs = 1'700'000'000'000;

KeyRecord make_key(const std::string& id, KeyStatus status = KeyStatus::kActive) {
  KeyRecord key;
  key.id = id;
  key.scheme = "ECDSA";
  key.curve = "secp256k1";
  key.public_key = status == KeyStatus::kCreating ? "" : "02" + std::string(64, 'a');
  key.status = status;
  key.owner_id = "us-owner";
  key.date_created_ms = kCreatedMs;
  return key;
}

KeyRecord delayed_key(const std::string& id, KeyStatus status = KeyStatus::kActive) {
  KeyRecord key = make_key(id, status);
  key.delay_delegation = true;
  return key;
}

KeyRecord delegated_key(const std::string& id, const std::string& user, KeyStatus status = KeyStatus::kActive) {
  KeyRecord key = make_key(id, status);
  key.delegated_to = user;
  key.custodial = false;
  return key;
}

SignatureRecord make_signature(const std::string& id, const std::string& key_id,
                               std::optional<std::string> external_id = std::nullopt) {
  SignatureRecord sig;
  sig.id = id;
  sig.key_id = key_id;
  sig.requester_user_id = "us-requester";
  sig.request_body = R"({"kind":"Hash","hash":"0x00"})";
  sig.request_digest = std::string(64, 'd');
  sig.status = "Signed";
  sig.external_id = std::move(external_id);
  sig.date_requested_ms = kCreatedMs;
  return sig;
}

WalletRecord make_wallet(const std::string& id, const std::string& key_id) {
  WalletRecord w;
  w.id = id;
  w.network = "Ethereum";
  w.key_id = key_id;
  w.owner_id = "us-owner";
  w.date_created_ms = kCreatedMs;
  return w;
}

// A distinct entry per `n`, so that a record out of place shows.
AuditEntry entry(int n, std::vector<std::string> affected = {}) {
  AuditEntry e;
  e.time_ms = kCreatedMs + n;
  e.principal_id = "us-" + std::to_string(n);
  if (n % 2 == 0) e.token_id = "to-" + std::to_string(n);
  if (n % 3 == 0) e.credential_id = "cr-" + std::to_string(n);
  e.method = "POST";
  e.path = "/keys/" + std::to_string(n);
  e.body_sha256 = std::string(64, static_cast<char>('a' + n % 6));
  e.outcome = "ok";
  e.affected_ids = std::move(affected);
  return e;
}

auto fields(const AuditEntry& e) {
  return std::tie(e.time_ms, e.principal_id, e.token_id, e.credential_id, e.method, e.path, e.body_sha256, e.outcome,
                  e.affected_ids);
}

auto fields(const KeyRecord& k) {
  return std::tie(k.id, k.scheme, k.curve, k.public_key, k.name, k.status, k.custodial, k.owner_id, k.date_created_ms,
                  k.date_deleted_ms, k.failure_reason, k.delegated_to, k.delay_delegation, k.seq);
}

// A write's outcome without its value, so that writes of different result types share one table.
template <class T>
Result<void> outcome_of(Result<T> result) {
  if (!result) return std::unexpected(std::move(result.error()));
  return {};
}

class StoreIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(db_path());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }

  std::filesystem::path db_path() const { return dir_.path() / "signerd.db"; }

  // The whole chain, oldest first, read the way a verifier reads it: newest-first pages of `limit`, reversed.
  std::vector<AuditRecord> chain(int limit = 3) {
    std::vector<AuditRecord> records;
    std::optional<std::int64_t> cursor;
    do {
      auto page = store_->list_audit(cursor, limit);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      EXPECT_LE(page->items.size(), static_cast<std::size_t>(limit));
      records.insert(records.end(), page->items.begin(), page->items.end());
      cursor = page->next_cursor;
    } while (cursor);
    std::reverse(records.begin(), records.end());
    return records;
  }

  std::vector<std::string> outcomes() {
    std::vector<std::string> out;
    for (const auto& r : chain()) out.push_back(r.entry.outcome);
    return out;
  }

  std::vector<CustodyRecord> custody(const std::string& key_id) {
    auto records = store_->custody_of_key(key_id);
    EXPECT_TRUE(records) << records.error().message;
    return records ? *records : std::vector<CustodyRecord>{};
  }

  static std::vector<std::string> ids(const std::vector<KeyRecord>& keys) {
    std::vector<std::string> out;
    for (const auto& k : keys) out.push_back(k.id);
    return out;
  }

  signerd::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

// --- the audit chain

TEST_F(StoreIdentityTest, EveryAuditedWriteAppendsOneChainedRecordThatVerifies) {
  ASSERT_TRUE(store_->insert_key(make_key("key-a")));
  ASSERT_TRUE(store_->insert_key(delayed_key("key-d", KeyStatus::kCreating)));
  // Fields that JSON has to escape, and ids that are not ASCII, must hash the same when read back.
  AuditEntry odd = entry(100, {"key-\"quoted\"\\", "wa-\xc3\xa9t\xc3\xa9", "line\nbreak", ""});
  odd.outcome = "error 409: key \"key-a\" is Active, not Creating";
  // Each write below appends exactly the entry it was given; `expected` lists them in order.
  std::vector<AuditEntry> expected;
  expected.reserve(16);  // audited() hands out references into it
  auto audited = [&](int n, std::vector<std::string> affected = {}) -> const AuditEntry& {
    expected.push_back(entry(n, std::move(affected)));
    return expected.back();
  };
  ASSERT_TRUE(store_->append_audit(audited(1)));
  expected.push_back(odd);
  ASSERT_TRUE(store_->append_audit(odd));
  ASSERT_TRUE(store_->rename_key("key-a", "ops", &audited(2, {"key-a"})));
  ASSERT_TRUE(store_->transition_key(
      "key-d", {.from = KeyStatus::kCreating, .to = KeyStatus::kActive, .public_key = "02bb"}, &audited(3)));
  ASSERT_TRUE(store_->delegate_key("key-d", "us-end", audited(4, {"key-d"})));
  ASSERT_TRUE(store_->insert_signature(make_signature("sig-1", "key-a"), &audited(5, {"sig-1"})));
  {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<Result<void>> async_result;
    store_->insert_signature_async(
        make_signature("sig-2", "key-a"),
        [&](Result<void> r) {
          std::lock_guard lock(mutex);
          async_result = std::move(r);
          cv.notify_one();
        },
        audited(6, {"sig-2"}));
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return async_result.has_value(); });
    ASSERT_TRUE(*async_result) << async_result->error().message;
  }
  ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-1", "key-a"), &audited(7, {"wa-1", "key-a"})));
  ASSERT_TRUE(store_->update_wallet("wa-1", {.name = std::optional<std::string>("w"), .external_id = {}},
                                    &audited(8, {"wa-1"})));
  ASSERT_TRUE(store_->set_wallet_tags("wa-1", {"t"}, &audited(9, {"wa-1"})));
  ASSERT_TRUE(store_->put_identity_objects({{.kind = "user", .id = "us-1", .json = "{}"}}, &audited(10, {"us-1"})));
  // The same writes without an audit entry append nothing.
  ASSERT_TRUE(store_->rename_key("key-a", "ops2"));
  ASSERT_TRUE(store_->insert_signature(make_signature("sig-3", "key-a")));
  ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-2", "key-a")));
  ASSERT_TRUE(store_->set_wallet_tags("wa-2", {"t"}));
  ASSERT_TRUE(store_->put_identity_objects({{.kind = "user", .id = "us-2", .json = "{}"}}, nullptr));

  for (int limit : {1, 3, 100}) {
    SCOPED_TRACE(limit);
    const auto records = chain(limit);
    ASSERT_EQ(records.size(), expected.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(records[i].seq, static_cast<std::int64_t>(i + 1));
      EXPECT_EQ(fields(records[i].entry), fields(expected[i]));
      EXPECT_EQ(records[i].prev_hash, i == 0 ? std::string(kAuditGenesisHash) : records[i - 1].hash);
      EXPECT_EQ(records[i].hash, audit_record_hash(records[i].prev_hash, records[i].seq, expected[i]));
    }
    const auto broken = verify_audit_chain(records);
    EXPECT_FALSE(broken) << broken->seq << ": " << broken->reason;
  }
}

TEST_F(StoreIdentityTest, ListAuditPagesNewestFirstBySeq) {
  for (int n = 1; n <= 7; ++n) ASSERT_TRUE(store_->append_audit(entry(n)));
  std::vector<std::int64_t> seqs;
  std::vector<std::size_t> sizes;
  std::optional<std::int64_t> cursor;
  do {
    auto page = store_->list_audit(cursor, 3);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& r : page->items) seqs.push_back(r.seq);
    sizes.push_back(page->items.size());
    if (page->next_cursor) {
      EXPECT_EQ(*page->next_cursor, page->items.back().seq);
    }
    cursor = page->next_cursor;
  } while (cursor);
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(store_->list_audit(std::nullopt, 0).error().code, ErrorCode::kInvalidArgument);
  auto before_first = store_->list_audit(1, 10);
  ASSERT_TRUE(before_first);
  EXPECT_TRUE(before_first->items.empty());
  EXPECT_FALSE(before_first->next_cursor);
}

TEST_F(StoreIdentityTest, AuditLengthIsTheNewestSeq) {
  EXPECT_EQ(store_->audit_length().value(), 0);
  for (int n = 1; n <= 3; ++n) ASSERT_TRUE(store_->append_audit(entry(n)));
  EXPECT_EQ(store_->audit_length().value(), 3);
}

TEST_F(StoreIdentityTest, FailedChangesLeaveNoAuditRecordAndNoCustodyRecord) {
  ASSERT_TRUE(store_->insert_key(make_key("key-a")));
  ASSERT_TRUE(store_->insert_key(make_key("key-c", KeyStatus::kCreating)));
  ASSERT_TRUE(store_->insert_signature(make_signature("sig-1", "key-a", "ext-1")));
  ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-1", "key-a")));
  ASSERT_TRUE(store_->append_audit(entry(1)));  // so that the chain has a head to go stale
  const AuditEntry audit = entry(2, {"x"});
  const CustodyEvent custodial{.event = "CreatedCustodial", .delegated_to = std::nullopt};
  const struct {
    const char* what;
    std::function<Result<void>()> write;
    ErrorCode code;
  } cases[] = {
      {"rename an unknown key", [&] { return outcome_of(store_->rename_key("key-none", "x", &audit)); },
       ErrorCode::kNotFound},
      {"transition from the wrong status, with custody",
       [&] {
         return outcome_of(store_->transition_key(
             "key-a", {.from = KeyStatus::kCreating, .to = KeyStatus::kActive, .custody = custodial}, &audit));
       },
       ErrorCode::kConflict},
      {"transition an unknown key, with custody",
       [&] {
         return outcome_of(store_->transition_key(
             "key-none", {.from = KeyStatus::kCreating, .to = KeyStatus::kActive, .custody = custodial}, &audit));
       },
       ErrorCode::kNotFound},
      {"reuse an externalId",
       [&] { return store_->insert_signature(make_signature("sig-2", "key-a", "ext-1"), &audit); },
       ErrorCode::kConflict},
      {"reuse a signature id", [&] { return store_->insert_signature(make_signature("sig-1", "key-a"), &audit); },
       ErrorCode::kConflict},
      {"sign with an unknown key",
       [&] { return store_->insert_signature(make_signature("sig-3", "key-none"), &audit); }, ErrorCode::kNotFound},
      {"reuse a wallet id", [&] { return store_->insert_wallet(make_wallet("wa-1", "key-a"), &audit); },
       ErrorCode::kConflict},
      {"a wallet on an unknown key", [&] { return store_->insert_wallet(make_wallet("wa-2", "key-none"), &audit); },
       ErrorCode::kNotFound},
      {"update an unknown wallet",
       [&] {
         return outcome_of(
             store_->update_wallet("wa-none", {.name = std::optional<std::string>("x"), .external_id = {}}, &audit));
       },
       ErrorCode::kNotFound},
      {"tag an unknown wallet", [&] { return outcome_of(store_->set_wallet_tags("wa-none", {"t"}, &audit)); },
       ErrorCode::kNotFound},
      {"delegate an unknown key", [&] { return outcome_of(store_->delegate_key("key-none", "us-end", audit)); },
       ErrorCode::kNotFound},
      {"delegate a key made without delayDelegation",
       [&] { return outcome_of(store_->delegate_key("key-a", "us-end", audit)); }, ErrorCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto result = c.write();
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, c.code) << result.error().message;
    EXPECT_EQ(outcomes(), (std::vector<std::string>{"ok"}));
    EXPECT_TRUE(custody("key-a").empty());
    EXPECT_TRUE(custody("key-none").empty());
  }
  EXPECT_FALSE(store_->get_signature("key-a", "sig-2").value());
  EXPECT_FALSE(store_->get_key("key-a").value()->delegated_to);
  // The next record links to the last one that was kept.
  ASSERT_TRUE(store_->append_audit(entry(3)));
  const auto records = chain();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].seq, 2);
  EXPECT_FALSE(verify_audit_chain(records));
}

TEST_F(StoreIdentityTest, AFailingWriteInABatchLeavesNoGapInTheChain) {
  ASSERT_TRUE(store_->append_audit(entry(1)));
  auto appends = [](AuditEntry e) {
    return [e](Connection& connection) -> Result<void> {
      auto seq = StoreTestPeer::append_audit(connection, e);
      if (!seq) return std::unexpected(seq.error());
      return {};
    };
  };
  // Appends, then fails: its savepoint takes the record with it, and the next write must not link to it.
  auto appends_then_fails = [](AuditEntry e, std::function<Result<void>(Connection&)> then) {
    return [e, then](Connection& connection) -> Result<void> {
      if (auto seq = StoreTestPeer::append_audit(connection, e); !seq) return std::unexpected(seq.error());
      return then(connection);
    };
  };
  AuditEntry lost_a = entry(20), lost_b = entry(21);
  lost_a.outcome = "lost a";
  lost_b.outcome = "lost b";
  auto results = StoreTestPeer::write_together(
      *store_,
      {appends(entry(2)),
       appends_then_fails(
           lost_a, [](Connection&) -> Result<void> { return fail(ErrorCode::kNotFound, "key key-none not found"); }),
       appends(entry(3)),
       appends_then_fails(lost_b,  // a constraint failure from SQLite itself
                          [](Connection& c) { return c.exec("INSERT INTO keys (id) VALUES ('k')", "test"); }),
       appends(entry(4))});
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0]);
  EXPECT_EQ(results[1].error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(results[2]);
  EXPECT_EQ(results[3].error().code, ErrorCode::kConflict);
  EXPECT_TRUE(results[4]);
  const auto records = chain();
  std::vector<std::string> principals;
  for (const auto& r : records) principals.push_back(r.entry.principal_id);
  EXPECT_EQ(principals, (std::vector<std::string>{"us-1", "us-2", "us-3", "us-4"}));
  EXPECT_EQ(records.back().seq, 4);
  const auto broken = verify_audit_chain(records);
  EXPECT_FALSE(broken) << broken->seq << ": " << broken->reason;
}

TEST_F(StoreIdentityTest, ConcurrentAuditedWritesFormOneGaplessChain) {
  constexpr int kThreads = 8, kPerThread = 40;
  for (int t = 0; t < kThreads; ++t) ASSERT_TRUE(store_->insert_key(make_key("key-" + std::to_string(t))));
  std::atomic<int> kept{0}, refused{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const AuditEntry e = entry(t * 1000 + i);
        if (i % 3 == 1) {  // fails: no such key
          auto renamed = store_->rename_key("key-none", "x", &e);
          ++(!renamed && renamed.error().code == ErrorCode::kNotFound ? refused : unexpected);
          continue;
        }
        // Succeeds: a change with its record, or a record on its own.
        const bool ok = i % 3 == 0 ? store_->rename_key("key-" + std::to_string(t), std::to_string(i), &e).has_value()
                                   : store_->append_audit(e).has_value();
        ++(ok ? kept : unexpected);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected, 0);
  const auto records = chain(50);
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kept.load()));
  EXPECT_GT(refused, 0);
  const auto broken = verify_audit_chain(records);
  EXPECT_FALSE(broken) << broken->seq << ": " << broken->reason;
  EXPECT_LT(store_->stats().commits, store_->stats().writes);  // the writes were batched
}

TEST_F(StoreIdentityTest, TamperingThroughAnotherConnectionIsDetectedAtThatRecord) {
  const struct {
    const char* what;
    std::string sql;
    std::int64_t broken_at;
    const char* reason;
  } cases[] = {
      {"an outcome rewritten", "UPDATE audit SET outcome = 'ok (edited)' WHERE seq = 3", 3, "altered"},
      {"affected ids rewritten", "UPDATE audit SET affected_ids = '[]' WHERE seq = 2", 2, "altered"},
      {"a record deleted", "DELETE FROM audit WHERE seq = 4", 4, "missing"},
      {"a record rewritten with a fresh hash of its own",
       "UPDATE audit SET principal_id = 'us-x', hash = '" + std::string(64, 'f') + "' WHERE seq = 2", 2, "altered"},
      {"a prev_hash rewritten", "UPDATE audit SET prev_hash = hash WHERE seq = 5", 5, "prev_hash"},
  };
  // One database per case, each with the same five records.
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    signerd::testing::TempDir dir;
    const auto path = dir.path() / "signerd.db";
    auto store = Store::open(path);
    ASSERT_TRUE(store);
    for (int n = 1; n <= 5; ++n) ASSERT_TRUE((*store)->append_audit(entry(n, {"id-" + std::to_string(n)})));
    {
      auto intruder = Connection::open(path, OpenMode::kReadWrite);
      ASSERT_TRUE(intruder);
      ASSERT_TRUE(intruder->exec(c.sql, "tamper"));
    }
    auto page = (*store)->list_audit(std::nullopt, 100);
    ASSERT_TRUE(page);
    std::vector<AuditRecord> records(page->items.rbegin(), page->items.rend());
    const auto broken = verify_audit_chain(records);
    ASSERT_TRUE(broken);
    EXPECT_EQ(broken->seq, c.broken_at);
    EXPECT_NE(broken->reason.find(c.reason), std::string::npos) << broken->reason;
  }
}

TEST_F(StoreIdentityTest, ARecordRehashedInPlaceBreaksTheLinkAfterIt) {
  for (int n = 1; n <= 4; ++n) ASSERT_TRUE(store_->append_audit(entry(n)));
  auto records = chain();
  // The intruder rewrites record 2 and recomputes its hash correctly: record 2 now verifies, record 3 does not.
  AuditEntry edited = records[1].entry;
  edited.outcome = "error 403: forbidden";
  const std::string rehashed = audit_record_hash(records[1].prev_hash, 2, edited);
  {
    auto intruder = Connection::open(db_path(), OpenMode::kReadWrite);
    ASSERT_TRUE(intruder);
    ASSERT_TRUE(intruder->exec(
        "UPDATE audit SET outcome = '" + edited.outcome + "', hash = '" + rehashed + "' WHERE seq = 2", "tamper"));
  }
  const auto broken = verify_audit_chain(chain());
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 3);
  // And the store keeps appending after the head it finds, whatever happened to it.
  ASSERT_TRUE(store_->append_audit(entry(5)));
  EXPECT_EQ(chain().back().seq, 5);
}

// --- custody and delegation

TEST_F(StoreIdentityTest, TransitionWithCustodyRecordsItLinkedToItsAuditRecord) {
  ASSERT_TRUE(store_->insert_key(delayed_key("key-d", KeyStatus::kCreating)));
  ASSERT_TRUE(store_->insert_key(make_key("key-c", KeyStatus::kCreating)));
  const AuditEntry created = entry(2, {"key-d"});  // with a token
  ASSERT_TRUE(store_->append_audit(entry(1)));
  auto active = store_->transition_key("key-d",
                                       {.from = KeyStatus::kCreating,
                                        .to = KeyStatus::kActive,
                                        .public_key = "02bb",
                                        .custody = CustodyEvent{.event = "DelegationPending", .delegated_to = {}}},
                                       &created);
  ASSERT_TRUE(active) << active.error().message;
  const AuditEntry delegated = entry(5, {"key-d"});  // without a token
  auto handed = store_->delegate_key("key-d", "us-end", delegated);
  ASSERT_TRUE(handed) << handed.error().message;
  // Custody without an audit record is not written (see KeyTransition::custody).
  ASSERT_TRUE(
      store_->transition_key("key-c", {.from = KeyStatus::kCreating,
                                       .to = KeyStatus::kActive,
                                       .public_key = "02cc",
                                       .custody = CustodyEvent{.event = "CreatedCustodial", .delegated_to = {}}}));
  EXPECT_TRUE(custody("key-c").empty());

  const auto records = custody("key-d");
  ASSERT_EQ(records.size(), 2u);
  const auto audit = chain();
  ASSERT_EQ(audit.size(), 3u);
  const struct {
    const char* event;
    std::optional<std::string> delegated_to;
    const AuditEntry& cause;
    std::int64_t audit_seq;
  } expected[] = {{"DelegationPending", std::nullopt, created, 2}, {"Delegated", "us-end", delegated, 3}};
  for (std::size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(expected[i].event);
    const auto& r = records[i];
    EXPECT_EQ(r.key_id, "key-d");
    EXPECT_EQ(r.custody.event, expected[i].event);
    EXPECT_EQ(r.custody.delegated_to, expected[i].delegated_to);
    EXPECT_EQ(r.principal_id, expected[i].cause.principal_id);
    EXPECT_EQ(r.token_id, expected[i].cause.token_id);
    EXPECT_EQ(r.date_ms, expected[i].cause.time_ms);
    EXPECT_EQ(r.audit_seq, expected[i].audit_seq);
    EXPECT_EQ(fields(audit[static_cast<std::size_t>(r.audit_seq - 1)].entry), fields(expected[i].cause));
    if (i > 0) {
      EXPECT_GT(r.seq, records[i - 1].seq);
    }
  }
  EXPECT_TRUE(custody("key-none").empty());
}

TEST_F(StoreIdentityTest, DelegateKeyHandsADelayedKeyToItsUserOnce) {
  ASSERT_TRUE(store_->insert_key(delayed_key("key-d")));
  const auto before = store_->get_key("key-d").value().value();
  EXPECT_TRUE(before.custodial);
  EXPECT_TRUE(before.delay_delegation);
  EXPECT_FALSE(before.delegated_to);

  auto handed = store_->delegate_key("key-d", "us-end", entry(1, {"key-d"}));
  ASSERT_TRUE(handed) << handed.error().message;
  EXPECT_EQ(handed->delegated_to, "us-end");
  EXPECT_FALSE(handed->custodial);
  EXPECT_TRUE(handed->delay_delegation);
  EXPECT_EQ(handed->status, KeyStatus::kActive);
  EXPECT_EQ(handed->seq, before.seq);
  EXPECT_EQ(fields(store_->get_key("key-d").value().value()), fields(*handed));
  EXPECT_EQ(ids(store_->list_keys(std::nullopt, 10, "us-end")->items), (std::vector<std::string>{"key-d"}));
}

TEST_F(StoreIdentityTest, DelegateKeyRefusesAndChangesNothing) {
  ASSERT_TRUE(store_->insert_key(make_key("key-plain")));
  ASSERT_TRUE(store_->insert_key(delegated_key("key-direct", "us-other")));
  ASSERT_TRUE(store_->insert_key(delayed_key("key-done")));
  ASSERT_TRUE(store_->delegate_key("key-done", "us-first", entry(1)));
  KeyRecord archived = delayed_key("key-archived", KeyStatus::kArchived);
  archived.date_deleted_ms = kCreatedMs + 1;
  ASSERT_TRUE(store_->insert_key(archived));
  ASSERT_TRUE(store_->insert_key(delayed_key("key-creating", KeyStatus::kCreating)));
  ASSERT_TRUE(store_->insert_key(delayed_key("key-failed", KeyStatus::kFailed)));
  const struct {
    const char* id;
    const char* user;
    ErrorCode code;
    const char* message;
  } cases[] = {
      {"key-none", "us-end", ErrorCode::kNotFound, "key key-none not found"},
      {"key-plain", "us-end", ErrorCode::kInvalidArgument, "key key-plain was not created with delayDelegation: true"},
      {"key-direct", "us-end", ErrorCode::kInvalidArgument, "key key-direct is already delegated"},
      {"key-done", "us-end", ErrorCode::kInvalidArgument, "key key-done is already delegated"},
      {"key-done", "us-first", ErrorCode::kInvalidArgument, "key key-done is already delegated"},
      {"key-archived", "us-end", ErrorCode::kInvalidArgument,
       "key key-archived is Archived; only an Active key can be delegated"},
      {"key-creating", "us-end", ErrorCode::kInvalidArgument,
       "key key-creating is Creating; only an Active key can be delegated"},
      {"key-failed", "us-end", ErrorCode::kInvalidArgument,
       "key key-failed is Failed; only an Active key can be delegated"},
      {"key-plain", "", ErrorCode::kInvalidArgument, "delegate key: the user id is empty"},
  };
  const auto audit_before = chain().size();
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.id << " to '" << c.user << "'");
    const auto key_before = store_->get_key(c.id).value();
    const auto custody_before = custody(c.id).size();
    auto result = store_->delegate_key(c.id, c.user, entry(9, {c.id}));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, c.code);
    EXPECT_EQ(result.error().message, c.message);
    const auto key_after = store_->get_key(c.id).value();
    ASSERT_EQ(key_after.has_value(), key_before.has_value());
    if (key_after) {
      EXPECT_EQ(fields(*key_after), fields(*key_before));
    }
    EXPECT_EQ(custody(c.id).size(), custody_before);
    EXPECT_EQ(chain().size(), audit_before);
  }
}

TEST_F(StoreIdentityTest, ListKeysFilteredByDelegatedUserPagesNewestFirst) {
  std::vector<std::string> expected_us1;
  for (int i = 0; i < 7; ++i) {
    const std::string n = std::to_string(i);
    KeyRecord mine = delegated_key("key-us1-" + n, "us-1", i % 3 == 2 ? KeyStatus::kArchived : KeyStatus::kActive);
    ASSERT_TRUE(store_->insert_key(mine));
    expected_us1.insert(expected_us1.begin(), mine.id);
    // Interleaved: another user's key, a custodial key, and us-1's keys that lists never show.
    ASSERT_TRUE(store_->insert_key(delegated_key("key-us2-" + n, "us-2")));
    ASSERT_TRUE(store_->insert_key(make_key("key-custodial-" + n)));
    ASSERT_TRUE(store_->insert_key(delegated_key("key-us1-creating-" + n, "us-1", KeyStatus::kCreating)));
    ASSERT_TRUE(store_->insert_key(delegated_key("key-us1-failed-" + n, "us-1", KeyStatus::kFailed)));
  }
  for (int limit : {1, 3, 7, 10}) {
    SCOPED_TRACE(limit);
    std::vector<std::string> seen;
    std::optional<std::int64_t> cursor;
    do {
      auto page = store_->list_keys(cursor, limit, "us-1");
      ASSERT_TRUE(page) << page.error().message;
      ASSERT_LE(page->items.size(), static_cast<std::size_t>(limit));
      for (const auto& key : page->items) {
        EXPECT_EQ(key.delegated_to, "us-1");
        seen.push_back(key.id);
      }
      cursor = page->next_cursor;
    } while (cursor);
    EXPECT_EQ(seen, expected_us1);
  }
  EXPECT_TRUE(store_->list_keys(std::nullopt, 10, "us-none")->items.empty());
  EXPECT_EQ(store_->list_keys(std::nullopt, 0, "us-1").error().code, ErrorCode::kInvalidArgument);
  // Unfiltered, the list still has every listed key.
  EXPECT_EQ(store_->list_keys(std::nullopt, 100)->items.size(), 7u * 3);
}

// --- identity objects

TEST_F(StoreIdentityTest, IdentityObjectsUpsertKeepsSeqAndReplacesJson) {
  const AuditEntry first = entry(1, {"us-1"}), second = entry(2), third = entry(3);
  ASSERT_TRUE(store_->put_identity_objects(
      {{.kind = "org", .id = "or-1", .json = R"({"name":"a"})"}, {.kind = "user", .id = "us-1", .json = R"({"v":1})"}},
      nullptr));
  EXPECT_TRUE(chain().empty());
  ASSERT_TRUE(store_->put_identity_objects({{.kind = "user", .id = "us-1", .json = R"({"v":2})"},
                                            {.kind = "token", .id = "us-1", .json = R"({"same id, other kind":1})"}},
                                           &first));
  auto loaded = store_->load_identity_objects();
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 3u);
  const std::tuple<std::string, std::string, std::string> expected[] = {
      {"org", "or-1", R"({"name":"a"})"},
      {"user", "us-1", R"({"v":2})"},
      {"token", "us-1", R"({"same id, other kind":1})"}};
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const auto& o = (*loaded)[i];
    EXPECT_EQ(std::tie(o.kind, o.id, o.json), expected[i]);
    if (i > 0) {
      EXPECT_GT(o.seq, (*loaded)[i - 1].seq);
    }
  }
  const auto user_seq = (*loaded)[1].seq;
  // Updating again keeps the seq (creation order), and the audit record went in with the first update.
  ASSERT_TRUE(store_->put_identity_objects({{.kind = "user", .id = "us-1", .json = R"({"v":3})"}}, &second));
  loaded = store_->load_identity_objects();
  ASSERT_TRUE(loaded);
  EXPECT_EQ((*loaded)[1].seq, user_seq);
  EXPECT_EQ((*loaded)[1].json, R"({"v":3})");
  // No objects: the audit record alone.
  ASSERT_TRUE(store_->put_identity_objects({}, &third));
  const auto records = chain();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].entry.affected_ids, (std::vector<std::string>{"us-1"}));
  EXPECT_FALSE(verify_audit_chain(records));
}

TEST_F(StoreIdentityTest, IdentityObjectsSurviveReopen) {
  const AuditEntry audit = entry(1);
  ASSERT_TRUE(store_->put_identity_objects({{.kind = "user", .id = "us-1", .json = "{}"}}, &audit));
  store_.reset();
  auto reopened = Store::open(db_path());
  ASSERT_TRUE(reopened);
  auto loaded = (*reopened)->load_identity_objects();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].id, "us-1");
  ASSERT_TRUE((*reopened)->append_audit(entry(2)));
  auto page = (*reopened)->list_audit(std::nullopt, 10);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].prev_hash, page->items[1].hash);  // the chain carries on across restarts
}

// --- query plans

TEST_F(StoreIdentityTest, NewQueriesAreServedByIndexes) {
  auto connection = Connection::open(db_path(), OpenMode::kReadOnly);
  ASSERT_TRUE(connection);
  for (auto query : {sql::kListDelegatedKeys, sql::kCustodyOfKey, sql::kListAudit, sql::kDelegateKey}) {
    expect_served_by_one_index(*connection, query);
  }
  // The head of the chain: the last entry of the primary key, one step whatever the table's size.
  for (auto query : {sql::kAuditHead, sql::kAuditLength}) {
    auto plan = connection->prepare("EXPLAIN QUERY PLAN " + std::string(query), "test");
    ASSERT_TRUE(plan);
    ASSERT_TRUE(plan->step().value());
    EXPECT_EQ(plan->text(3), "SCAN audit") << query;  // rowid order, no sort: LIMIT 1 stops after one row
    EXPECT_FALSE(plan->step().value());
  }
}

}  // namespace
}  // namespace signerd::store

namespace signerd::store {
namespace {

// A signature is recorded only if, inside its own write, the key is still Active and either not delegated or
// delegated to the requester: an archive or a delegation that committed while the HSM signed wins.
TEST_F(StoreIdentityTest, ASignatureIsRecordedOnlyWhileItsRequesterStillControlsTheKey) {
  ASSERT_TRUE(store_->insert_key(delegated_key("key-del", "us-end")));
  ASSERT_TRUE(store_->insert_key(make_key("key-arch", KeyStatus::kArchived)));
  ASSERT_TRUE(store_->insert_key(make_key("key-ok")));

  auto by_org = store_->insert_signature(make_signature("sig-org", "key-del"));
  ASSERT_FALSE(by_org);
  EXPECT_EQ(by_org.error().code, ErrorCode::kPermissionDenied);
  auto owners = make_signature("sig-end", "key-del");
  owners.requester_user_id = "us-end";
  EXPECT_TRUE(store_->insert_signature(owners));
  auto archived = store_->insert_signature(make_signature("sig-arch", "key-arch"));
  ASSERT_FALSE(archived);
  EXPECT_EQ(archived.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(store_->insert_signature(make_signature("sig-ok", "key-ok")));

  auto listed = store_->list_signatures("key-del", std::nullopt, 10);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].id, "sig-end");
  EXPECT_FALSE(*store_->get_signature("key-arch", "sig-arch"));
}

}  // namespace
}  // namespace signerd::store
