// raw_grpc_baseline.h - the raw gRPC baseline the daemon benchmarks print
// their ratios against: a Messaging.Connect server that echoes every ask
// frame at once and counts the others (reporting the count in the last
// reply's `from`), with nothing of Troupe behind it.
#pragma once

#include <cstdint>
#include <string>

#include "grpcpp/grpcpp.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::bench {

class RawStream final
    : public grpc::ServerBidiReactor<troupe::v1::ClientBatch, troupe::v1::ServerBatch> {
 public:
  RawStream() { StartRead(&in_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    bool reply = false;
    out_.Clear();
    for (const troupe::v1::ClientFrame& f : in_.frames()) {
      if (f.ask()) {
        troupe::v1::ServerFrame* r = out_.add_frames();
        r->set_kind(troupe::v1::ServerFrame::KIND_REPLY);
        r->set_id(f.id());
        r->set_type(f.type());
        r->set_payload(f.payload());
        reply = true;
      } else {
        ++counted_;
      }
    }
    if (reply) {
      out_.mutable_frames(out_.frames_size() - 1)->set_from(std::to_string(counted_));
      StartWrite(&out_);  // the client waits for it before sending more
    } else {
      StartRead(&in_);
    }
  }
  void OnWriteDone(bool) override { StartRead(&in_); }
  void OnDone() override { delete this; }

 private:
  troupe::v1::ClientBatch in_;
  troupe::v1::ServerBatch out_;
  uint64_t counted_ = 0;
};

class RawService final : public troupe::v1::Messaging::CallbackService {
  grpc::ServerBidiReactor<troupe::v1::ClientBatch, troupe::v1::ServerBatch>* Connect(
      grpc::CallbackServerContext*) override {
    return new RawStream();
  }
};

}  // namespace troupe::bench
