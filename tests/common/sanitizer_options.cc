// sanitizer_options.cc - defaults for LeakSanitizer in every test binary.
//
// use_tls=0: LeakSanitizer's end-of-process scan walks each thread's dynamic
// TLS vector, which still points at the blocks of actor libraries the tests
// have dlclosed (the SDK keeps a plain thread_local binding; glibc frees the
// block at dlclose). Reading them crashes the scan ("Tracer caught signal
// 11"). No test object is owned only through a thread_local, so nothing that
// leaks goes unseen.
extern "C" const char* __lsan_default_options() { return "use_tls=0"; }
