#pragma once
// A check the store's tests share: a query runs as one index SEARCH, with no table SCAN and no sort of its own.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.h"

namespace signerd::store {

inline void expect_served_by_one_index(Connection& connection, std::string_view query) {
  SCOPED_TRACE(query);
  auto plan = connection.prepare("EXPLAIN QUERY PLAN " + std::string(query), "test");
  ASSERT_TRUE(plan);
  int steps = 0;
  while (plan->step().value()) {
    const std::string detail = plan->text(3);
    ++steps;
    EXPECT_TRUE(detail.starts_with("SEARCH")) << detail;                // never "SCAN": no full pass over a table
    EXPECT_EQ(detail.find("TEMP B-TREE"), std::string::npos) << detail;  // the index gives the order
  }
  EXPECT_EQ(steps, 1);
}

// A join runs as one index SEARCH per table, through `indexes` in that order (the first one drives the join), with
// no table SCAN. A join cannot take its order from an index, so it may sort what the searches found when
// `sorts_its_rows` says so: the caller's comment on the query tells why those rows are few.
inline void expect_join_served_by_indexes(Connection& connection, std::string_view query,
                                          const std::vector<std::string>& indexes, bool sorts_its_rows) {
  SCOPED_TRACE(query);
  auto plan = connection.prepare("EXPLAIN QUERY PLAN " + std::string(query), "test");
  ASSERT_TRUE(plan);
  std::vector<std::string> searched;
  int sorts = 0;
  while (plan->step().value()) {
    const std::string detail = plan->text(3);
    if (detail.find("TEMP B-TREE") != std::string::npos) {
      ++sorts;
      continue;
    }
    EXPECT_TRUE(detail.starts_with("SEARCH")) << detail;
    const auto at = detail.find("INDEX ");
    ASSERT_NE(at, std::string::npos) << detail;
    const auto name = detail.substr(at + 6);
    searched.push_back(name.substr(0, name.find(' ')));
  }
  EXPECT_EQ(searched, indexes);
  EXPECT_EQ(sorts, sorts_its_rows ? 1 : 0);
}

}  // namespace signerd::store
