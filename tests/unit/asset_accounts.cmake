# The legacy API: asset symbols → networks and addresses (core), asset accounts and public keys in the store.
signerd_gtest(asset_symbols_test SOURCES unit/asset_symbols_test.cc LIBS signerd_core LABELS unit)
signerd_gtest(store_asset_accounts_test SOURCES unit/store_asset_accounts_test.cc LIBS signerd_store LABELS unit)
