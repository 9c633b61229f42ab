// grpc_tsan_suppressions.cc - ThreadSanitizer suppressions for programs that use gRPC.
//
// Debian's gRPC (and the Abseil it uses for its locks) is not built with
// -fsanitize=thread, so TSan cannot see the synchronization inside it: every
// object handed from one thread to another through a completion queue or a
// gRPC server thread looks like a race (including the inline grpcpp/ header
// code compiled into our objects). So the memory accesses of intercepted
// calls made by gRPC (recvmsg, memcpy, ...) are ignored (called_from_lib:
// otherwise TSan builds, symbolizes and then suppresses a report for every
// byte range received, which made a 20k-tell test take minutes), and
// reports with a gRPC or Abseil frame in either stack are suppressed. Races
// between the client's own threads and callers, whose stacks do not pass
// through gRPC, are still reported. Linked into every test binary that uses
// gRPC (target troupe_grpc_tsan_suppressions, proto/CMakeLists.txt), into
// the isolated-host tests (absl::Status crosses their threads) and, in TSan
// builds only, into troupd, troupe-host, director and the client examples,
// which the end-to-end tests run; harmless without TSan. gRPC's TLS
// runs on Debian's OpenSSL (libssl, libcrypto), which is not instrumented
// either, and its stacks often show no gRPC frame: ignored the same way.
// So is upb (libupb), which gRPC's core uses to copy and parse message bytes
// on its own threads (a batch serialized by StartWrite on a worker is copied
// by libupb on a gRPC thread; the writer's stack is often lost).
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgrpc++.so\n"
         "called_from_lib:libgpr.so\n"
         "race:libgrpc.so\n"
         "race:libgrpc++.so\n"
         "race:libgpr.so\n"
         "race:libaddress_sorting.so\n"
         "called_from_lib:libupb.so\n"
         "race:libupb.so\n"
         "race:libabsl_\n"
         "called_from_lib:libssl.so\n"
         "called_from_lib:libcrypto.so\n"
         "race:libssl.so\n"
         "race:libcrypto.so\n"
         "race:/usr/include/grpcpp/\n"
         "race:/usr/include/grpc/\n"
         // absl::Status counts its references in Debian's uninstrumented
         // libabsl_status (UnrefNonInlined): the last owner's delete looks
         // unordered with an earlier reader on another thread.
         "race:absl::*Status::Unref\n"
         // gRPC's own threads (started inside libgpr) may still run at exit.
         "thread:libgpr.so\n"
         "thread:libgrpc.so\n";
}
