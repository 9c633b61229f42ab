/* soname_lib.c - built twice by tests/loader/CMakeLists.txt, as two files that
   share the soname libtroupe_soname_test.so.1 (elf_dynamic_test.cc). */
int troupe_soname_test_value(void) { return SONAME_LIB_VALUE; }
