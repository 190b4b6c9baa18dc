# One place for per-target compile settings: warnings, -Werror, sanitizers, fuzzing.
# Nothing here touches the global CMAKE_CXX_FLAGS.

function(skr_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                           -Wdouble-promotion -Wformat=2
                                           -Wimplicit-fallthrough)
  if(SKR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # OpenSSL 3 only: deprecated low-level APIs are a compile error, not a warning.
  target_compile_definitions(${target} PRIVATE OPENSSL_API_COMPAT=30000 OPENSSL_NO_DEPRECATED)
  skr_apply_sanitizers(${target})
endfunction()

function(skr_apply_sanitizers target)
  if(SKR_SANITIZERS)
    target_compile_options(${target} PRIVATE -fsanitize=${SKR_SANITIZERS} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${SKR_SANITIZERS})
  endif()
endfunction()

# Static library of one component. Usage: skr_library(name SOURCES ... DEPS ...)
function(skr_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  skr_target_defaults(${name})
  if(SKR_FUZZ)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  endif()
endfunction()

# A program: its logic in a static library of every *.cc of the calling directory but main.cc
# (tests link the library), and a thin executable from main.cc.
# Usage: skr_component(LIBRARY name PROGRAM name DEPS ...)
function(skr_component)
  cmake_parse_arguments(ARG "" "LIBRARY;PROGRAM" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(REMOVE_ITEM sources ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
  skr_library(${ARG_LIBRARY} SOURCES ${sources} DEPS ${ARG_DEPS})
  add_executable(${ARG_PROGRAM} ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
  target_link_libraries(${ARG_PROGRAM} PRIVATE ${ARG_LIBRARY})
  skr_target_defaults(${ARG_PROGRAM})
endfunction()

# Poco's Crypto, JWT and NetSSL headers use OpenSSL APIs that OPENSSL_NO_DEPRECATED hides: only the
# source files that include them (TLS adapters, cross-check tests) are compiled without that guard.
function(skr_poco_openssl_sources)
  set_source_files_properties(${ARGN} PROPERTIES
    COMPILE_OPTIONS "-UOPENSSL_NO_DEPRECATED;-UOPENSSL_API_COMPAT")
endfunction()
