# Packaging.cmake -- the Debian package of nvlab (CPack, DEB generator), included last by the
# top-level CMakeLists.txt so that every install() rule is known.
#
# `cpack` in a built tree (or `cmake --build --preset X --target package`) writes
# nvlab_<version>_<arch>.deb. It holds everything `cmake --install` installs, every install
# component in one package (the command, the plugin, nvlab-qemu, the guest tools, the machine
# definitions, the guest library with its headers, pkg-config file and CMake package, and any
# component added later, such as the host SDK), under /usr: nvlab finds its own files relative to
# /proc/self/exe, so the prefix needs no configuration. LIBDIR is the one the tree was configured
# with (`lib` unless CMAKE_INSTALL_PREFIX was /usr; both are searched by pkg-config and
# find_package under /usr).
#
# Depends: the shared libraries' packages come from dpkg-shlibdeps (CPack runs it on every ELF
# file; the versions are the oldest whose symbols suffice). Listed by hand: QEMU 10, which nvlab runs, and the host
# tools the guest-image builder (lab/image) runs: apt-cache and apt-get download (apt), dpkg-deb
# (dpkg, essential), depmod (kmod), xz and zstd (gzip is essential). Recommends: libvirt's
# daemons and clients, needed only by `nvlab machine` and `--domain`. Maintainer scripts: only
# CPack's ldconfig calls for libnvrtl's shared library (nvlab itself does not load it).
# Tested by tests/packaging (built, inspected, unpacked into a throwaway root, `nvlab demo`).

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "nvlab")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "nvlab")
# Whoever publishes the package names themselves (Debian requires a name and an address).
set(NVLAB_PACKAGE_MAINTAINER "nvlab maintainers <maintainers@localhost>" CACHE STRING
  "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${NVLAB_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
  "nvlab runs QEMU guests with emulated NVDIMMs under TCG and a persistence model (a QEMU TCG
plugin) that decides which NVDIMM lines survive a power cut, as ADR or eADR hardware would.
It includes the nvlab command (image, run, power-cycle, demo, campaign, explore), the QEMU
plugin, the static guest programs, the machine definitions, and the guest library libnvrtl
(the Windows Rtl*NonVolatile* API for Linux) with its headers, pkg-config file and CMake
package.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES OFF)  # the guest tools' symbols name stores in cut reports
# One package holding every install component (not one package per component).
set(CPACK_DEB_COMPONENT_INSTALL OFF)

set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION "devel")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qemu-system-x86 (>= 1:10.0), apt, kmod, xz-utils, zstd")
# libvirt's client library is opened with dlopen, for --domain only (lab/libvirt): recommended,
# not a dependency dpkg-shlibdeps could find.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libvirt0, libvirt-daemon-system, libvirt-clients")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)

include(CPack)
