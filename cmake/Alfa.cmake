# Shared compiler flags and helper functions (tests, fuzzers) for every Alfaspark target.
set(ALFA_WARNINGS -Wall -Wextra -Wconversion -Wshadow -Werror)

if(ALFA_SANITIZE)
  # -O1 as AddressSanitizer's documentation advises: at -O0 the whole-site runs (soak, scenarios)
  # take three times as long and find nothing more.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
if(ALFA_FUZZ)
  # Every library a fuzzer links is instrumented for coverage feedback.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(ALFA_COVERAGE)
  add_compile_options(--coverage -O0)
  add_link_options(--coverage)
endif()

# The tests, benchmarks and fuzzers (tests/, bench/, fuzz/ need cmocka). The Debian packages
# build with ALFA_TESTS=OFF: they run no tests and a cross build needs no cmocka for the target.
option(ALFA_TESTS "Build the tests, benchmarks and fuzzers" ON)
if(ALFA_TESTS)
  find_library(CMOCKA_LIB cmocka REQUIRED)
  find_path(CMOCKA_INCLUDE cmocka.h REQUIRED)
endif()

# alfa_target_warnings(<target>): our strict warning set, errors included.
function(alfa_target_warnings target)
  target_compile_options(${target} PRIVATE ${ALFA_WARNINGS})
endfunction()

# alfa_add_test(<name> SOURCES <files...> [LIBS <libs...>] [TIMEOUT <s>] [LABELS <labels...>])
# Builds a cmocka test program build/bin/test-<name> and registers it with ctest.
function(alfa_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(test-${name} ${T_SOURCES})
  target_include_directories(test-${name} PRIVATE ${CMOCKA_INCLUDE} ${PROJECT_SOURCE_DIR}/tests/common)
  target_link_libraries(test-${name} PRIVATE ${T_LIBS} ${CMOCKA_LIB})
  alfa_target_warnings(test-${name})
  add_test(NAME ${name} COMMAND test-${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "ALFA_SOURCE_DIR=${PROJECT_SOURCE_DIR};ALFA_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# alfa_add_fuzzer(<name> SOURCES <files...> [LIBS <libs...>] [CORPUS <dir>])
# Builds build/bin/fuzz-<name> with libFuzzer when ALFA_FUZZ is on, and registers a short
# pass (10,000 runs) with ctest so `make test` exercises it; `make fuzz` runs the long campaign.
function(alfa_add_fuzzer name)
  if(NOT ALFA_FUZZ)
    return()
  endif()
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(fuzz-${name} ${F_SOURCES})
  target_compile_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz-${name} PRIVATE ${F_LIBS})
  alfa_target_warnings(fuzz-${name})
  add_test(NAME fuzz-${name}-short COMMAND fuzz-${name} -runs=10000 -seed=1)
  set_tests_properties(fuzz-${name}-short PROPERTIES TIMEOUT 300 LABELS fuzz)
endfunction()
