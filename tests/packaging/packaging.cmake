# The Debian package: built with cpack from this build tree, installed with dpkg into a throwaway root (maintainer
# scripts run chrootless with DPKG_ROOT), its layout checked, then purged. Needs root; skipped (77) otherwise.
# cpack first builds the `preinstall` target (everything, like `ninja install`), a no-op in a built tree.
add_test(NAME packaging.deb_install
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/deb_test.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
                 ${PROJECT_VERSION} $<TARGET_FILE:signerd> $<TARGET_FILE:signerctl>)
set_tests_properties(packaging.deb_install PROPERTIES LABELS packaging SKIP_RETURN_CODE 77 TIMEOUT 1200)
