# TroupeBundle.cmake - troupe_add_bundle(): package actor libraries and a
# manifest into a signed bundle with `director gensrc` (docs: plugins/README.md).
#
#   troupe_add_bundle(NAME <target>
#       MANIFEST <manifest.json>
#       LIBRARIES <actor library target>...   # made with troupe_add_actor_library()
#       [DATA <file>...]                     # passed to gensrc as --data
#       [KEY <secret key file>]              # default: the build-tree key, see below
#       [VERSION <version>]                  # overrides the manifest's version
#       [OUT_DIR <dir>])                     # default: the current binary dir
#
# Creates the custom target <target> (part of ALL) producing
# <OUT_DIR>/<group>-<version>.troupe, with group and version read from the
# manifest at configure time (VERSION "date" is for `director gensrc` by hand:
# its file name is not known here). The target's property TROUPE_BUNDLE_FILE
# holds that path.
#
# Without KEY the bundle is signed with a key generated once per build tree by
# `director keygen build --out <build>/troupe-keys` (build.key, build.pub).
# That key is for tests and development only: it sits unprotected in the build
# tree. Trust <build>/troupe-keys/build.pub only on test nodes; sign releases
# with KEY pointing at a key kept elsewhere.
#
# director: in the Troupe tree, the `director` target (bundles are skipped,
# with a message, when the tree has none); installed, TROUPE_DIRECTOR_EXECUTABLE
# (set by TroupeConfig.cmake to the installed bin/director, or found on PATH).

set(TROUPE_BUILD_KEY_DIR "${CMAKE_BINARY_DIR}/troupe-keys"
    CACHE INTERNAL "Where troupe_add_bundle() keeps the build-tree signing key")
set(TROUPE_BUNDLE_STATE_DIR "${CMAKE_BINARY_DIR}/troupe-dir"
    CACHE INTERNAL "TROUPE_DIR passed to director while building bundles")

# The director command line: (in-tree target | installed program).
function(_troupe_bundle_director out_command out_depends)
  if(TARGET director)
    set(${out_command} "$<TARGET_FILE:director>" PARENT_SCOPE)
    set(${out_depends} director PARENT_SCOPE)
  elseif(TROUPE_DIRECTOR_EXECUTABLE)
    set(${out_command} "${TROUPE_DIRECTOR_EXECUTABLE}" PARENT_SCOPE)
    set(${out_depends} "${TROUPE_DIRECTOR_EXECUTABLE}" PARENT_SCOPE)
  else()
    set(${out_command} "" PARENT_SCOPE)
    set(${out_depends} "" PARENT_SCOPE)
  endif()
endfunction()

# Defines (once) the rule making the build-tree key and the target
# troupe_build_key that owns it.
function(_troupe_bundle_build_key director director_depends)
  if(TARGET troupe_build_key)
    return()
  endif()
  set(key "${TROUPE_BUILD_KEY_DIR}/build.key")
  set(pub "${TROUPE_BUILD_KEY_DIR}/build.pub")
  add_custom_command(
    OUTPUT "${key}" "${pub}"
    # keygen refuses to overwrite; a half-deleted pair is made again.
    COMMAND "${CMAKE_COMMAND}" -E rm -f "${key}" "${pub}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${TROUPE_BUILD_KEY_DIR}"
            "${TROUPE_BUNDLE_STATE_DIR}"
    COMMAND "${director}" --dir "${TROUPE_BUNDLE_STATE_DIR}" keygen build
            --out "${TROUPE_BUILD_KEY_DIR}"
    # The build's own TROUPE_DIR trusts it, so gensrc does not warn on every
    # bundle; hosts that load the bundles still have to trust it themselves.
    COMMAND "${director}" --dir "${TROUPE_BUNDLE_STATE_DIR}" trust "${pub}"
    COMMENT "Generating the build-tree bundle signing key (tests and development only)"
    VERBATIM)
  add_custom_target(troupe_build_key DEPENDS "${key}" "${pub}")
  # Made once: director must exist first, but relinking it must not replace
  # the key (directories that trust build.pub would stop accepting bundles).
  foreach(dep IN LISTS director_depends)
    if(TARGET ${dep})
      add_dependencies(troupe_build_key ${dep})
    endif()
  endforeach()
endfunction()

# Makes the target for the bundle recorded under `name` (see troupe_add_bundle).
function(_troupe_add_bundle_target name)
  get_property(args GLOBAL PROPERTY "TROUPE_BUNDLE_ARGS_${name}")
  cmake_parse_arguments(B "" "MANIFEST;KEY;VERSION;OUT_FILE;OUT_DIR" "LIBRARIES;DATA" ${args})
  _troupe_bundle_director(director director_depends)
  if(NOT director)
    message(STATUS "troupe_add_bundle(${name}): no director program in this build; "
                   "bundle not built")
    return()
  endif()

  set(key_depends "")
  if(B_KEY)
    set(key "${B_KEY}")
    set(key_depends "${key}")
  else()
    _troupe_bundle_build_key("${director}" "${director_depends}")
    set(key "${TROUPE_BUILD_KEY_DIR}/build.key")
    set(key_depends "${key}" troupe_build_key)
  endif()

  set(command "${director}" --dir "${TROUPE_BUNDLE_STATE_DIR}" gensrc --manifest "${B_MANIFEST}")
  foreach(lib IN LISTS B_LIBRARIES)
    list(APPEND command --lib "$<TARGET_FILE:${lib}>")
  endforeach()
  foreach(file IN LISTS B_DATA)
    list(APPEND command --data "${file}")
  endforeach()
  if(B_VERSION)
    list(APPEND command --version "${B_VERSION}")
  endif()
  list(APPEND command --key "${key}" --out "${B_OUT_DIR}")

  add_custom_command(
    OUTPUT "${B_OUT_FILE}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${B_OUT_DIR}" "${TROUPE_BUNDLE_STATE_DIR}"
    # gensrc may refuse to replace an existing bundle of the same version.
    COMMAND "${CMAKE_COMMAND}" -E rm -f "${B_OUT_FILE}"
    COMMAND ${command}
    DEPENDS "${B_MANIFEST}" ${B_LIBRARIES} ${B_DATA} ${key_depends} ${director_depends}
    COMMENT "Building bundle ${name}: ${B_OUT_FILE}"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS "${B_OUT_FILE}")
  set_target_properties(${name} PROPERTIES TROUPE_BUNDLE_FILE "${B_OUT_FILE}")
endfunction()

function(troupe_add_bundle)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;MANIFEST;KEY;VERSION;OUT_DIR"
                        "LIBRARIES;DATA")
  if(NOT ARG_NAME)
    message(FATAL_ERROR "troupe_add_bundle: NAME is required")
  endif()
  set(name "${ARG_NAME}")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "troupe_add_bundle(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_MANIFEST OR NOT ARG_LIBRARIES)
    message(FATAL_ERROR "troupe_add_bundle(${name}): MANIFEST and LIBRARIES are required")
  endif()
  foreach(lib IN LISTS ARG_LIBRARIES)
    if(NOT TARGET ${lib})
      message(FATAL_ERROR "troupe_add_bundle(${name}): LIBRARIES: '${lib}' is not a target")
    endif()
    get_target_property(is_actor_library ${lib} TROUPE_ACTOR_LIBRARY)
    if(NOT is_actor_library)
      message(FATAL_ERROR "troupe_add_bundle(${name}): LIBRARIES: '${lib}' was not made with "
                          "troupe_add_actor_library() (it needs its isolation flags)")
    endif()
  endforeach()

  get_filename_component(manifest "${ARG_MANIFEST}" ABSOLUTE BASE_DIR
                         "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${manifest}")
    message(FATAL_ERROR "troupe_add_bundle(${name}): manifest ${manifest} does not exist")
  endif()
  # Group and version name the output file; re-read them when the manifest changes.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${manifest}")
  file(READ "${manifest}" json)
  string(JSON group ERROR_VARIABLE error GET "${json}" group)
  if(error)
    message(FATAL_ERROR "troupe_add_bundle(${name}): ${manifest}: no \"group\": ${error}")
  endif()
  set(version "${ARG_VERSION}")
  if(NOT version)
    string(JSON version ERROR_VARIABLE error GET "${json}" version)
    if(error)
      message(FATAL_ERROR "troupe_add_bundle(${name}): ${manifest}: no \"version\" "
                          "and no VERSION given")
    endif()
  endif()
  if(version STREQUAL "date")
    message(FATAL_ERROR "troupe_add_bundle(${name}): VERSION date names the file at build "
                        "time; give a fixed version (or run director gensrc by hand)")
  endif()

  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}")
  if(ARG_OUT_DIR)
    get_filename_component(out_dir "${ARG_OUT_DIR}" ABSOLUTE BASE_DIR
                           "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  set(data "")
  foreach(file IN LISTS ARG_DATA)
    get_filename_component(file "${file}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND data "${file}")
  endforeach()
  set(key "")
  if(ARG_KEY)
    get_filename_component(key "${ARG_KEY}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()

  set(args MANIFEST "${manifest}" OUT_DIR "${out_dir}"
           OUT_FILE "${out_dir}/${group}-${version}.troupe" LIBRARIES ${ARG_LIBRARIES})
  if(data)
    list(APPEND args DATA ${data})
  endif()
  if(key)
    list(APPEND args KEY "${key}")
  endif()
  if(ARG_VERSION)
    list(APPEND args VERSION "${ARG_VERSION}")
  endif()
  set_property(GLOBAL PROPERTY "TROUPE_BUNDLE_ARGS_${name}" "${args}")

  # In the Troupe tree `director` may be defined after this directory: decide
  # at the end of the top-level CMakeLists.txt.
  if(NOT TARGET director AND CMAKE_PROJECT_NAME STREQUAL "Troupe"
     AND NOT TROUPE_DIRECTOR_EXECUTABLE)
    # (EVAL: DEFER would expand ${name} only when the call runs.)
    cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]] \
                                            CALL _troupe_add_bundle_target [[${name}]])")
  else()
    _troupe_add_bundle_target("${name}")
  endif()
endfunction()
