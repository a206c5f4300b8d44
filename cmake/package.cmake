# `cpack -G DEB` (from the build directory): one Debian package, dlock_VERSION_ARCH.deb, with
# both install components (the library for developers, the dlock command). Runtime
# dependencies come from dpkg-shlibdeps; what building against the headers needs is recommended.
set(CPACK_PACKAGE_NAME dlock)
set(CPACK_PACKAGE_VENDOR "dlock authors")
set(CPACK_PACKAGE_CONTACT "dlock authors <dlock@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_FILE_NAME_SUFFIX "")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libasio-dev, libhiredis-dev, libssl-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server")
set(CPACK_COMPONENTS_ALL library cli)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
