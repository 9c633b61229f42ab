// probe_library.cc - a library confinement_probe dlopens after confinement,
// to show that loading code still works (as a host loads a bundle).
extern "C" __attribute__((visibility("default"))) int troupe_confinement_probe_answer() {
  return 42;
}
