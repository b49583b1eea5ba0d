# scripts/ themselves. Included from tests/CMakeLists.txt. Label: scripts.
# scripts.run: ./scripts/run against a temporary state dir with this build's signerd and signerctl (SIGNERD_BIN_DIR,
# so nothing is installed or built into ./build): the bootstrap (service account, smart-account app, networks),
# a signed POST /api/v1/smart-account, a restart that reuses everything, an old state dir that gains the app.
# Needs curl, jq, node and openssl (scripts/install-deps installs them).
add_test(NAME scripts.run
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_test.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(scripts.run PROPERTIES LABELS scripts TIMEOUT 300)
