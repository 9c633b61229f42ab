// client_stream.h - one client's Messaging.Connect stream: batches of tells
// and asks in, batches of replies, errors and incoming messages out.
//
// The stream owns a native "client" actor whose address is sent first (the
// hello frame): tells go out with it as their sender, and whatever actors send
// to it comes back as incoming frames. Asks go through the AskRouter and are
// answered by id, in any order. Outgoing frames are queued and whoever finds
// no write in flight starts one with everything queued, so replies coming from
// many actor threads leave in batches without a writer thread.
//
// Memory is bounded per stream: a batch is read from its wire bytes one frame
// at a time (ClientBatchReader), at most kMaxFramesPerBatch frames, and the
// backlog of frames waiting for the wire (replies and errors included) is
// checked after every frame: above kMaxQueuedFrames the stream stops in the
// middle of the batch and reads nothing more until half of them are written.
// When the client goes away, what was queued for it is freed at once.
//
// A frame whose target is a global name held on another daemon needs the
// convention's leader: it is handed to BlockingCalls, and the rest of its
// batch waits until it is done (frames of one stream are handled in order),
// then goes on from that thread. The batch is always handled by exactly one
// party: a reaction (OnReadDone, or OnWriteDone resuming paused reads) or
// that hand-off.
//
// Lifetime: gRPC owns the reactor and calls OnDone last; the stream does not
// finish while a write is in flight or a hand-off holds it. The outbox it
// shares with reply callbacks lives on until the last callback drops it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/common/call_counter.h"
#include "daemon/runtime/actor_system.h"
#include "daemon/service/ask_router.h"
#include "daemon/service/blocking_calls.h"
#include "daemon/service/client_auth.h"
#include "daemon/service/client_batch_reader.h"
#include "grpcpp/grpcpp.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::service {

// What a stream needs from the daemon; every pointer outlives the server.
struct StreamDeps {
  runtime::ActorSystem* system = nullptr;
  AskRouter* asks = nullptr;
  BlockingCalls* blocking = nullptr;  // where frames that may wait go
  const ClientAuth* auth = nullptr;
  uint64_t max_payload_bytes = 0;
  CallCounter* open_streams = nullptr;  // counted while the stream lives
  const ConventionNames* names = nullptr;  // message_checks.h; may be null
  // The most frames any stream had waiting for the wire; may be null.
  std::atomic<size_t>* peak_queued_frames = nullptr;
};

// Reads and writes raw bytes: ClientBatch in (see ClientBatchReader), ServerBatch out.
class ClientStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  ClientStream(const StreamDeps& deps, grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // Most asks one stream may have in flight; more get RESOURCE_EXHAUSTED.
  static constexpr uint64_t kMaxAsksInFlight = 1 << 16;
  // Most incoming messages waiting to be written; more are dropped (and
  // logged). Replies and errors are always queued, but above
  // kMaxQueuedFrames the stream stops reading until half of them are written.
  static constexpr size_t kMaxQueuedIncoming = 1 << 16;
  static constexpr size_t kMaxQueuedFrames = 1 << 16;
  // Most frames in one ClientBatch; a larger batch ends the stream with
  // RESOURCE_EXHAUSTED before any of its frames is handled. (The SDK's
  // batches hold at most 1 MiB, so fewer than 44000 frames.)
  static constexpr size_t kMaxFramesPerBatch = 1 << 16;
  // A batch is at most its largest payload (max_payload_bytes) plus this:
  // the SDK closes a batch at about 1 MiB (by its own estimate of a frame's
  // size), and one frame may carry a payload of any allowed size.
  static constexpr size_t kBatchOverheadBytes = 2 << 20;

 private:
  class Outbox;
  ~ClientStream() override;

  // Orders what the constructor wrote before what a reaction reads. gRPC
  // runs reactions on its own threads and hands them over in code that
  // ThreadSanitizer cannot see (Debian's gRPC is not instrumented), so we
  // make the order explicit: the constructor writes under published_mu_, and
  // every reaction locks it once first. Uncontended: nanoseconds.
  void Published();

  // Handles the frames of the batch being read until it is done (then reads
  // the next one), the backlog is over its bound (then reads pause, and
  // OnWriteDone calls this again once the backlog has drained) or a frame is
  // handed to BlockingCalls (which goes on once it is done). `held`: called
  // off gRPC's reactions, holding the stream (Outbox::Hold), which this
  // releases when it stops.
  void HandleBatch(bool held);
  // Handles `frame` here; false when it went to BlockingCalls instead (a
  // target that needs the convention): the batch stops until it is done.
  bool Handle(v1::ClientFrame& frame, bool held);
  // Sends the tell or ask of a checked frame; `names` as SendTo's (may
  // wait: only on a BlockingCalls thread).
  void Send(v1::ClientFrame& frame, const ConventionNames* names);
  // Queues `frame` on BlockingCalls with a hold on the stream (the caller's
  // when `held`); false when refused at once (the frame got its error and
  // the holds are as before).
  bool HandOff(v1::ClientFrame&& frame, bool held);
  // After a frame's message found `node`'s outbox over its bound: true when
  // the batch pauses until that outbox drains (the resume goes on with it,
  // holding the stream); false when there is room again already.
  bool WaitForPeerRoom(const std::string& node, bool held);
  void FailFrame(uint64_t id, const absl::Status& status);
  // Starts the write of `batch` (called with no outbox lock held, at most one
  // at a time). write_mu_ orders the serialization of `batch`, which may run
  // inside StartWrite on this thread, before OnWriteDone and the batch's reuse,
  // for ThreadSanitizer (gRPC's own hand-over is invisible to it). Recursive
  // in case gRPC runs OnWriteDone inline.
  void Write(grpc::ByteBuffer* batch) {
    std::lock_guard<std::recursive_mutex> writing(write_mu_);
    StartWrite(batch);
  }

  StreamDeps deps_;
  std::string context_peer_;  // set in the constructor
  std::shared_ptr<Outbox> outbox_;
  runtime::ActorRef client_actor_;
  grpc::ByteBuffer in_;          // the batch being received
  ClientBatchReader batch_;      // the batch being handled
  std::mutex published_mu_;
  std::recursive_mutex write_mu_;
};

}  // namespace troupe::service
