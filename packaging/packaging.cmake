# Packaging: what `cmake --install` lays out beyond the binaries and units, and the Debian package built by CPack.
# Included at the end of the root CMakeLists.txt. Layout with --prefix /usr (the .deb always uses /usr):
#   /usr/bin/signerd, /usr/bin/signerctl                    daemon/, cli/
#   /usr/lib/systemd/system/signerd.{service,socket}        systemd/ (with sysusers.d/ and tmpfiles.d/ snippets)
#   /etc/signerd/signerd.toml                               here: config/signerd.example.toml, a conffile
#   /usr/share/doc/signerd/                                 here: README.md, docs/*.md, the example config
# Build the package:  cpack -G DEB --config <build>/CPackConfig.cmake   (or: cmake --build <build> --target package)
# docs/operations.md says how to install and configure it; tests/packaging/ installs it into a throwaway root.
include(GNUInstallDirs)

# The configuration lives in /etc/signerd whatever the prefix: signerd.service runs
# `signerd --config /etc/signerd/signerd.toml`, and the tmpfiles.d snippet owns /etc/signerd. It is a literal
# rather than CMAKE_INSTALL_FULL_SYSCONFDIR because that one is fixed when the build tree is configured
# (/usr/local/etc for the default prefix, e.g. in build/), so neither `cmake --install --prefix /usr` nor CPack
# (which installs with prefix /usr) could move it to /etc afterwards.
set(SIGNERD_CONFIG_DIR "/etc/signerd")
install(FILES ${PROJECT_SOURCE_DIR}/config/signerd.example.toml
        DESTINATION ${SIGNERD_CONFIG_DIR}
        RENAME signerd.toml
        # No secret lives in this file (the PIN and the bearer token are separate files), and the daemon's user
        # must read it: root-owned, 0644, inside /etc/signerd (0750 root:signerd from the tmpfiles.d snippet).
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

install(FILES
          ${PROJECT_SOURCE_DIR}/README.md
          ${PROJECT_SOURCE_DIR}/docs/design.md
          ${PROJECT_SOURCE_DIR}/docs/operations.md
          ${PROJECT_SOURCE_DIR}/docs/benchmarks.md
          ${PROJECT_SOURCE_DIR}/config/signerd.example.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- CPack: one Debian package, signerd_<version>-<release>_<arch>.deb ----
set(SIGNERD_PACKAGE_MAINTAINER "signerd maintainers <signerd-maintainers@example.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
set(SIGNERD_PACKAGE_RELEASE "1" CACHE STRING "Debian revision of the package (the part after the '-')")

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "signerd")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "signerd")
set(CPACK_PACKAGE_CONTACT "${SIGNERD_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "HSM-backed key and signature daemon (PKCS#11, HTTP/JSON API)")
set(CPACK_STRIP_FILES ON)
# The package is always laid out under /usr, whatever CMAKE_INSTALL_PREFIX the build tree was configured with.
# DESTDIR staging is what keeps the absolute /etc/signerd destination inside the package (without it, CPack would
# install that file into the real /etc of the machine building the package).
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")

set(CPACK_DEBIAN_PACKAGE_NAME "signerd")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${SIGNERD_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SIGNERD_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/signerd")
# The synopsis line comes from CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the long description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "signerd keeps ECDSA secp256k1, ECDSA P-256 and EdDSA ed25519 keys inside a PKCS#11 HSM (SoftHSM2, YubiHSM 2, Thales
Luna, AWS CloudHSM, ...), signs with them, and records key metadata and every signature in SQLite. It serves an
HTTP/JSON API on a Unix socket and on TCP.

The service is installed but neither enabled nor started: configure the PKCS#11 module, the token and the PIN first
(/usr/share/doc/signerd/operations.md).")
# Depends: the shared libraries' packages, computed by dpkg-shlibdeps (package dpkg-dev; CPack also needs `file`),
# plus what the maintainer scripts use to create the signerd user and its directories.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd-sysusers | adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "softhsm2 | yubihsm-pkcs11 | cloudhsm-pkcs11, systemd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "sqlite3, opensc")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_LIST_DIR}/debian/conffiles;${CMAKE_CURRENT_LIST_DIR}/debian/postinst;${CMAKE_CURRENT_LIST_DIR}/debian/prerm;${CMAKE_CURRENT_LIST_DIR}/debian/postrm")
# 0755 for the maintainer scripts, 0644 for conffiles, whatever the modes in the source tree.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
