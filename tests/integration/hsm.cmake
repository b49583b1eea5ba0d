signerd_gtest(hsm_test SOURCES integration/hsm_test.cc LIBS signerd_hsm OpenSSL::Crypto Threads::Threads
  ${CMAKE_DL_LIBS} LABELS integration)
# The test reads key attributes through its own raw PKCS#11 session, as an independent check of what hsm/ created.
target_include_directories(hsm_test SYSTEM PRIVATE $<TARGET_PROPERTY:PkgConfig::P11KIT,INTERFACE_INCLUDE_DIRECTORIES>)
add_dependencies(hsm_test signerd_p11fault)
target_compile_definitions(hsm_test PRIVATE SIGNERD_P11FAULT_MODULE="$<TARGET_FILE:signerd_p11fault>")
