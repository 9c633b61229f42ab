/* tdep_b.c - libtdep_b.so.1, the innermost bundled dependency of deps_bundle. */
int tdep_b_value(void) { return 41; }
