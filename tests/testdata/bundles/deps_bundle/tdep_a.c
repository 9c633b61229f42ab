/* tdep_a.c - libtdep_a.so.1, a bundled dependency of deps_bundle that needs
   libtdep_b.so.1 (DT_NEEDED, no RUNPATH): it loads only after libtdep_b. */
int tdep_b_value(void);
int tdep_a_value(void) { return tdep_b_value() + 1; }
