#pragma once
// A check the store's tests share: a query runs as one index SEARCH, with no table SCAN and no sort of its own.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

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

}  // namespace signerd::store
