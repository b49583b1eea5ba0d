# A PKCS#11 module that forwards to a real one (SoftHSM by default) and fails calls on demand: see
# fault/p11_fault_module.cc. Used by the hsm integration tests and by the daemon's end-to-end tests.
add_library(signerd_p11fault SHARED fault/p11_fault_module.cc)
target_include_directories(signerd_p11fault SYSTEM PRIVATE
  $<TARGET_PROPERTY:PkgConfig::P11KIT,INTERFACE_INCLUDE_DIRECTORIES>)
target_compile_definitions(signerd_p11fault PRIVATE SIGNERD_SOFTHSM_MODULE="${SIGNERD_SOFTHSM_MODULE}")
target_link_libraries(signerd_p11fault PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)
set_target_properties(signerd_p11fault PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
signerd_warnings(signerd_p11fault)
