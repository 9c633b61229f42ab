# TroupeInstall.cmake - what `cmake --install` puts under the prefix, so that
# another project can find_package(Troupe REQUIRED) (cmake/TroupeConfig.cmake.in):
#   include/troupe/*.h                          the SDK headers, and client.h
#   include/troupe/v1/*.pb.h, *.grpc.pb.h       the generated protobuf / gRPC headers
#   lib/libtroupe_{client,grpc,proto}.a         the client library and the generated code
#   lib/cmake/Troupe/TroupeConfig.cmake (+ ConfigVersion, Targets)
#                                               Troupe::sdk, Troupe::client (Troupe::grpc, Troupe::proto)
#   lib/cmake/Troupe/Troupe{ActorLibrary,Bundle}.cmake
#   bin/director, bin/troupd, bin/troupe-http,  when the tree has them (side by side:
#   bin/troupe-host                             `director start`, `bootstart`, troupd's
#                                               HTTP API and isolated hosts expect that)
# Two install components, one per Debian package (cmake/TroupePackage.cmake):
# `dev` (libtroupe-dev) the SDK, the client and the CMake files; `troupe` the
# programs. A plain `cmake --install` installs both.
# Included at the end of the top-level CMakeLists.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TROUPE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/Troupe")

install(TARGETS troupe_sdk EXPORT TroupeTargets COMPONENT dev)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/sdk/include/troupe"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT dev FILES_MATCHING PATTERN "*.h")
# The client SDK (sdk/client/) and the generated code it links.
install(TARGETS troupe_client troupe_grpc troupe_proto EXPORT TroupeTargets COMPONENT dev)
install(FILES "${PROJECT_SOURCE_DIR}/sdk/client/include/troupe/client.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/troupe" COMPONENT dev)
install(DIRECTORY "${PROJECT_BINARY_DIR}/proto/troupe/v1"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/troupe" COMPONENT dev
        FILES_MATCHING PATTERN "*.pb.h")
install(EXPORT TroupeTargets NAMESPACE Troupe:: DESTINATION "${TROUPE_INSTALL_CMAKEDIR}"
        COMPONENT dev)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/TroupeConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/cmake/TroupeConfig.cmake"
  INSTALL_DESTINATION "${TROUPE_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/cmake/TroupeConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/cmake/TroupeConfig.cmake"
              "${PROJECT_BINARY_DIR}/cmake/TroupeConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/TroupeActorLibrary.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/TroupeBundle.cmake"
        DESTINATION "${TROUPE_INSTALL_CMAKEDIR}" COMPONENT dev)

if(TARGET director)
  install(TARGETS director RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT troupe)
endif()
if(TARGET troupd)
  install(TARGETS troupd RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT troupe)
endif()
# troupd starts troupe-http (the HTTP API) and troupe-host (isolated
# bundles, docs/isolation.md) from its own directory.
foreach(companion troupe-http troupe-host)
  if(TARGET ${companion})
    install(TARGETS ${companion} RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT troupe)
  endif()
endforeach()
