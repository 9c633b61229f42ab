# TroupePackage.cmake - the Debian packages, built by `cpack -G DEB` after
# `cmake --build <dir> --target troupd director troupe_client troupe_package_files`
# (scripts/package.sh does both and runs lintian; packaging/README.md says what
# goes where and why). Configure with -DCMAKE_INSTALL_PREFIX=/usr so the
# libraries land in the multiarch directory. Two packages, one per install
# component:
#   troupe         director, troupd, the systemd unit (running troupd as the
#                  system user `troupe`), its sysusers.d entry, the bash
#                  completion of director, the maintainer scripts
#   libtroupe-dev  the `dev` component of TroupeInstall.cmake: SDK headers,
#                  troupe_client, find_package(Troupe) files, troupe_add_bundle
# Included at the end of the top-level CMakeLists.txt, after TroupeInstall.cmake.
include(GNUInstallDirs)

set(TROUPE_PACKAGE_MAINTAINER "The Troupe developers <troupe-devel@troupe.invalid>"
    CACHE STRING "Maintainer field of the Debian packages")
set(TROUPE_PACKAGE_RELEASE 1 CACHE STRING "Debian revision of the packages")
set(_troupe_pkg_src "${PROJECT_SOURCE_DIR}/packaging")
set(_troupe_pkg_out "${PROJECT_BINARY_DIR}/packaging")

# The unit, rendered from the template `director bootstart` also renders
# (systemd/troupd.service.in), for the packaged paths and user.
function(_troupe_render_packaged_unit out)
  set(BINDIR "/usr/bin")
  set(TROUPE_DIR "/var/lib/troupe")
  # drain_timeout_seconds' default (30) + bootstart's margin (15 s).
  set(TIMEOUT_STOP_SEC "45s")
  set(READ_WRITE_PATHS
      "# ReadWritePaths= not needed: TROUPE_DIR is in /var/lib/troupe (StateDirectory=)")
  set(SERVICE_USER "User=troupe\nGroup=troupe")
  # configure_file would quietly empty a placeholder set nowhere above.
  file(READ "${PROJECT_SOURCE_DIR}/systemd/troupd.service.in" template)
  string(REGEX MATCHALL "@[A-Z_]+@" placeholders "${template}")
  foreach(placeholder IN LISTS placeholders)
    string(REPLACE "@" "" name "${placeholder}")
    if(NOT DEFINED ${name})
      message(FATAL_ERROR "systemd/troupd.service.in has ${placeholder}, which "
                          "cmake/TroupePackage.cmake does not fill for the packaged unit")
    endif()
  endforeach()
  configure_file("${PROJECT_SOURCE_DIR}/systemd/troupd.service.in" "${out}" @ONLY)
endfunction()
_troupe_render_packaged_unit("${_troupe_pkg_out}/troupd.service")

# Files made by the build: the completion script from the built director
# (`director completion bash`), and the Debian changelog, compressed as
# Debian policy wants it (gzip -9n: no name, no time stamp).
add_custom_command(
  OUTPUT "${_troupe_pkg_out}/director.bash-completion"
  COMMAND sh -c "\"$1\" completion bash > \"$2\"" sh "$<TARGET_FILE:director>"
          "${_troupe_pkg_out}/director.bash-completion"
  DEPENDS director
  COMMENT "Generating the bash completion of director"
  VERBATIM)
add_custom_command(
  OUTPUT "${_troupe_pkg_out}/changelog.Debian.gz"
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" sh "${_troupe_pkg_src}/changelog"
          "${_troupe_pkg_out}/changelog.Debian.gz"
  DEPENDS "${_troupe_pkg_src}/changelog"
  COMMENT "Compressing the Debian changelog"
  VERBATIM)
add_custom_target(troupe_package_files
  DEPENDS "${_troupe_pkg_out}/director.bash-completion" "${_troupe_pkg_out}/changelog.Debian.gz")

# Only the packages install these (EXCLUDE_FROM_ALL): a plain `cmake
# --install` must not write /lib/systemd/system.
install(FILES "${_troupe_pkg_out}/troupd.service" DESTINATION /lib/systemd/system
        COMPONENT troupe EXCLUDE_FROM_ALL)
install(FILES "${_troupe_pkg_src}/troupe.sysusers" DESTINATION lib/sysusers.d
        RENAME troupe.conf COMPONENT troupe EXCLUDE_FROM_ALL)
install(FILES "${_troupe_pkg_out}/director.bash-completion"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" RENAME director
        COMPONENT troupe EXCLUDE_FROM_ALL)
foreach(_troupe_component_package IN ITEMS "troupe:troupe" "dev:libtroupe-dev")
  string(REPLACE ":" ";" _troupe_pair "${_troupe_component_package}")
  list(GET _troupe_pair 0 _troupe_component)
  list(GET _troupe_pair 1 _troupe_package)
  install(FILES "${_troupe_pkg_src}/copyright" "${_troupe_pkg_out}/changelog.Debian.gz"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/${_troupe_package}"
          COMPONENT ${_troupe_component} EXCLUDE_FROM_ALL)
endforeach()

# CPACK_STRIP_FILES strips the programs; the static libraries lose their
# debug sections here, as dh_strip does for a -dev package (runs after the
# `dev` rules of TroupeInstall.cmake, which are declared first).
install(CODE "
  file(GLOB _troupe_archives \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/libtroupe_*.a\")
  foreach(_troupe_archive IN LISTS _troupe_archives)
    execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug --enable-deterministic-archives
                            \"\${_troupe_archive}\" COMMAND_ERROR_IS_FATAL ANY)
  endforeach()"
  COMPONENT dev EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME troupe)
set(CPACK_PACKAGE_VENDOR "The Troupe developers")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL troupe dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # troupe_0.1.0-1_amd64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE "${TROUPE_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${TROUPE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)

set(CPACK_DEBIAN_TROUPE_PACKAGE_NAME troupe)
set(CPACK_DEBIAN_TROUPE_PACKAGE_SECTION net)
# postinst makes the user with systemd-sysusers, or adduser where it is
# missing (lintian wants adduser itself, not as an alternative).
set(CPACK_DEBIAN_TROUPE_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_TROUPE_PACKAGE_CONTROL_EXTRA
    "${_troupe_pkg_src}/postinst;${_troupe_pkg_src}/prerm;${_troupe_pkg_src}/postrm")
set(CPACK_COMPONENT_TROUPE_DESCRIPTION
    "distributed actor system: daemon and command-line tool
troupd hosts actors whose code arrives as signed, versioned bundles of
shared libraries, and joins other daemons in a convention over gRPC.
director builds, signs, loads and unloads bundles and talks to troupd.
The package runs troupd as the systemd service troupd.service under the
system user troupe, with its state in /var/lib/troupe.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtroupe-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The client links these; troupe_add_bundle runs director (package troupe).
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "troupe (= ${PROJECT_VERSION}-${TROUPE_PACKAGE_RELEASE}), libgrpc++-dev, protobuf-compiler-grpc, libprotobuf-dev, libabsl-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "distributed actor system: SDK for actors and clients
The headers of the Troupe SDK (the C ABI of actor libraries and the
header-only C++ actor SDK), the static client library troupe_client for
programs that talk to actors, and the CMake package find_package(Troupe)
with troupe_add_actor_library() and troupe_add_bundle().")

include(CPack)
