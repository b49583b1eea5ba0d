// What the store logs, and at which level: opening and migrating a database (info), a wait for the write lock and a
// slow commit (warn), a batch that fails or that SQLite rolls back (error), a single write undone (debug). Captured
// with an ostream sink installed on the component loggers.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "store/group_commit_writer.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "store/testing.h"
#include "tests/support/captured_log.h"
#include "tests/support/softhsm_token.h"

namespace signerd::store {
namespace {

using namespace std::chrono_literals;

using signerd::testing::CapturedLog;

std::function<Result<void>(Connection&)> raw_insert_key(const std::string& id) {
  return [id](Connection& connection) {
    return connection.exec(
        "INSERT INTO keys (id, scheme, curve, public_key, status, custodial, owner_id, "
        "date_created_ms) VALUES ('" +
            id + "', 'ECDSA', 'secp256k1', '', 'Active', 1, 'us-1', 1)",
        "test insert");
  };
}

class StoreLogTest : public ::testing::Test {
 protected:
  void SetUp() override { log(LogComponent::kStore).set_level(spdlog::level::trace); }
  std::filesystem::path db_path() const { return dir_.path() / "signerd.db"; }
  std::unique_ptr<Store> open_store() {
    auto store = Store::open(db_path());
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  CapturedLog captured_;  // before the store, so that it outlives the writer thread
  testing::TempDir dir_;
};

TEST_F(StoreLogTest, ANewDatabaseLogsEveryMigrationThenTheOpenLine) {
  { auto store = open_store(); }
  const auto first = captured_.text();
  for (std::int64_t v = 0; v < schema_version(); ++v) {
    const auto line =
        "info store migration applied from=" + std::to_string(v) + " to=" + std::to_string(v + 1) + " ms=";
    EXPECT_EQ(count(first, line), 1u) << line << "\n" << first;
  }
  const auto opened = "info store opened path=" + db_path().string() +
                      " created=true schema_version=" + std::to_string(schema_version()) +
                      " journal_mode=wal read_connections=4 max_batch=512 ms=";
  EXPECT_NE(first.find(opened), std::string::npos) << first;
  EXPECT_LT(first.find("to=" + std::to_string(schema_version())), first.find("store opened")) << first;

  // Opened again: no migration, and the file was there already.
  { auto store = open_store(); }
  const auto second = captured_.text().substr(first.size());
  EXPECT_EQ(second.find("migration"), std::string::npos) << second;
  EXPECT_NE(second.find("info store opened path=" + db_path().string() + " created=false schema_version="),
            std::string::npos)
      << second;
}

TEST_F(StoreLogTest, AtWarnOpeningAndCommittingSayNothing) {
  log(LogComponent::kStore).set_level(spdlog::level::warn);
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(StoreTestPeer::write_together(*store, {raw_insert_key("key-1")})[0]);
  EXPECT_EQ(captured_.text(), "");
}

TEST_F(StoreLogTest, EveryCommitIsATraceLine) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto results = StoreTestPeer::write_together(*store, {raw_insert_key("key-1"), raw_insert_key("key-2")});
  ASSERT_TRUE(results[0] && results[1]);
  const auto text = captured_.text();
  EXPECT_NE(text.find("trace store batch committed ms="), std::string::npos) << text;
  EXPECT_NE(text.find(" writes=2 batch=2"), std::string::npos) << text;
}

TEST_F(StoreLogTest, AWriteUndoneAloneIsADebugLineWithSqlitesMessage) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto results = StoreTestPeer::write_together(*store, {raw_insert_key("key-1"), raw_insert_key("key-1")});
  ASSERT_TRUE(results[0]);
  ASSERT_FALSE(results[1]);
  const auto text = captured_.text();
  EXPECT_NE(text.find("debug store write undone, the rest of its batch goes on error=\"store: test insert: UNIQUE "
                      "constraint failed: keys.id\""),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("error "), std::string::npos) << "one write undone is not an error of the store\n" << text;
}

TEST_F(StoreLogTest, ABatchSqliteRolledBackIsAnErrorCountingTheWritesLost) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto results = StoreTestPeer::write_together(
      *store, {raw_insert_key("key-1"), [](Connection& c) { return c.exec("ROLLBACK", "test rollback"); },
               raw_insert_key("key-2")});
  for (const auto& result : results) ASSERT_FALSE(result);
  const auto text = captured_.text();
  EXPECT_NE(text.find("error store batch rolled back by SQLite writes_failed=3 error="), std::string::npos) << text;
}

TEST_F(StoreLogTest, ACommitThatFailsIsAnErrorWithSqlitesMessage) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  // A deferred foreign-key violation passes every statement and fails only at COMMIT.
  auto results = StoreTestPeer::write_together(
      *store, {raw_insert_key("key-1"), [](Connection& c) {
                 return c.exec(
                     "PRAGMA defer_foreign_keys = ON; INSERT INTO signatures (id, key_id, requester_user_id, "
                     "request_body, request_digest, status, date_requested_ms) VALUES ('sig-x', 'key-missing', 'u', "
                     "'{}', 'd', 'Signed', 1)",
                     "test insert");
               }});
  for (const auto& result : results) ASSERT_FALSE(result);
  const auto text = captured_.text();
  EXPECT_NE(
      text.find("error store commit failed writes_failed=2 error=\"store: commit: FOREIGN KEY constraint failed\""),
      std::string::npos)
      << text;
}

TEST_F(StoreLogTest, ASlowCommitIsAWarningWithItsDurationAndSize) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const auto slow = GroupCommitWriter::kSlowCommit;
  auto results = StoreTestPeer::write_together(*store, {raw_insert_key("key-1"), [slow](Connection& c) {
                                                          std::this_thread::sleep_for(slow + 20ms);
                                                          return raw_insert_key("key-2")(c);
                                                        }});
  ASSERT_TRUE(results[0] && results[1]);
  const auto text = captured_.text();
  const auto at = text.find("warning store slow commit ms=");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_NE(text.find(" writes=2 batch=2 lock_wait_ms=", at), std::string::npos) << text;
  EXPECT_GE(std::stoi(text.substr(at + std::string("warning store slow commit ms=").size())), slow.count()) << text;
}

TEST_F(StoreLogTest, WaitingForAnotherConnectionsWriteLockIsAWarning) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto other = Connection::open(db_path(), OpenMode::kReadWrite);
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE(other->exec("BEGIN IMMEDIATE", "hold the write lock"));
  std::thread release([&other] {
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(other->exec("ROLLBACK", "release the write lock"));
  });
  const auto written = StoreTestPeer::write_together(*store, {raw_insert_key("key-1")});
  release.join();
  ASSERT_TRUE(written[0]) << written[0].error().message;
  const auto text = captured_.text();
  const auto at = text.find("warning store write lock was busy waited_ms=");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_GE(std::stoi(text.substr(at + std::string("warning store write lock was busy waited_ms=").size())), 250)
      << text;
}

TEST_F(StoreLogTest, ABatchThatCannotTakeTheWriteLockIsAnError) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto other = Connection::open(db_path(), OpenMode::kReadWrite);
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE(other->exec("BEGIN IMMEDIATE", "hold the write lock"));  // for longer than the busy timeout
  const auto written = StoreTestPeer::write_together(*store, {raw_insert_key("key-1"), raw_insert_key("key-2")});
  ASSERT_TRUE(other->exec("ROLLBACK", "release the write lock"));
  ASSERT_FALSE(written[0]);
  const auto text = captured_.text();
  EXPECT_NE(text.find("error store batch failed stage=begin writes_failed=2 lock_wait_ms="), std::string::npos) << text;
  EXPECT_NE(text.find("error=\"store: begin transaction: database is locked\""), std::string::npos) << text;
}

}  // namespace
}  // namespace signerd::store
