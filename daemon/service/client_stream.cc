// client_stream.cc - the Connect reactor and its outbox.
#include "daemon/service/client_stream.h"

#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "daemon/common/logging.h"
#include "daemon/common/mutex.h"
#include "daemon/common/strings.h"
#include "daemon/service/message_checks.h"
#include "proto/grpc_status.h"

namespace troupe::service {

// Frames waiting for the wire, and the state that decides when the stream may
// finish. Shared by the reactor, the client actor and reply callbacks.
class ClientStream::Outbox {
 public:
  Outbox(ClientStream* stream, AskRouter* asks, std::atomic<size_t>* peak_queued)
      : stream_(stream), asks_(asks), peak_queued_(peak_queued) {}

  // Queues `frame`; starts a write when none is in flight. Dropped once the
  // stream is finishing.
  void Push(v1::ServerFrame&& frame, bool droppable = false) {
    v1::ServerBatch* to_write = nullptr;
    ClientStream* stream = nullptr;
    {
      troupe::MutexLock lock(&mu_);
      if (closed_) return;
      if (droppable && queued_.frames_size() >= static_cast<int>(kMaxQueuedIncoming)) {
        ++dropped_;
        if ((dropped_ & (dropped_ - 1)) == 0) {  // 1, 2, 4, ...: do not flood the log
          LogWarning("client ", peer_, " reads too slowly: dropped ", dropped_,
                     " incoming messages so far");
        }
        return;
      }
      *queued_.add_frames() = std::move(frame);
      NotePeakLocked();
      if (!writing_) to_write = TakeQueuedLocked(&stream);
    }
    if (to_write != nullptr) WriteTaken(stream, to_write);
  }

  // Registers an ask sent on this stream; 0 when too many are in flight.
  uint64_t BeginAsk() {
    troupe::MutexLock lock(&mu_);
    if (asks_in_flight_ >= kMaxAsksInFlight) return 0;
    ++asks_in_flight_;
    const uint64_t seq = ++ask_seq_;
    handles_.emplace(seq, AskRouter::Handle());
    return seq;
  }
  // Remembers how to cancel ask `seq`, unless it has ended already.
  // An ask that started after the client went away (its frame was read
  // before the cancellation was seen) is cancelled here.
  void SetHandle(uint64_t seq, AskRouter::Handle handle) {
    {
      troupe::MutexLock lock(&mu_);
      auto it = handles_.find(seq);
      if (it == handles_.end()) return;  // ended already
      if (!cancelled_) {
        it->second = std::move(handle);
        return;
      }
    }
    asks_->Cancel(handle);
  }
  // Queues the answer to the client's ask `id` (our `seq`).
  void EndAsk(uint64_t seq, uint64_t id, absl::StatusOr<AskReply> reply) {
    v1::ServerFrame frame;
    frame.set_id(id);
    if (reply.ok()) {
      frame.set_kind(v1::ServerFrame::KIND_REPLY);
      frame.set_from(std::move(reply->from));
      frame.set_type(std::string(reply->message.type()));
      frame.set_payload(std::string(reply->message.payload()));
    } else {
      frame.set_kind(v1::ServerFrame::KIND_ERROR);
      frame.set_code(static_cast<int32_t>(reply.status().code()));
      frame.set_error(std::string(reply.status().message()));
    }
    Push(std::move(frame));
    bool finish = false;
    {
      troupe::MutexLock lock(&mu_);
      handles_.erase(seq);
      --asks_in_flight_;
      finish = ShouldFinishLocked();
    }
    if (finish) Finish();
  }

  // True (and reads pause) when more frames wait for the wire than a client
  // that reads may leave: the stream stops taking work until it drains.
  // `held`: the caller holds the stream (Hold), and lets go when pausing.
  bool PauseReadsIfBacklogged(bool held) {
    bool finish = false;
    {
      troupe::MutexLock lock(&mu_);
      if (queued_.frames_size() < static_cast<int>(kMaxQueuedFrames)) return false;
      reads_paused_ = true;
      if (held) {
        --holds_;
        finish = ShouldFinishLocked();
      }
    }
    if (finish) Finish();
    return true;
  }

  // Work on the stream outside gRPC's reactions (a frame handed to
  // BlockingCalls, then the rest of its batch) holds it: the stream does not
  // finish, so the reactor stays alive, until every hold is released.
  void Hold() {
    troupe::MutexLock lock(&mu_);
    ++holds_;
  }
  void Release() {
    bool finish = false;
    {
      troupe::MutexLock lock(&mu_);
      --holds_;
      finish = ShouldFinishLocked();
    }
    if (finish) Finish();
  }
  // A frame handed off is done, and its holder would go on with the batch:
  // true when it may (still holding the stream). Else the hold is released:
  // the client has gone (the rest of the batch is dropped) or the backlog is
  // over its bound (reads pause; OnWriteDone resumes them, as after
  // PauseReadsIfBacklogged).
  bool ContinueBatch() {
    bool finish = false;
    {
      troupe::MutexLock lock(&mu_);
      const bool backlogged = queued_.frames_size() >= static_cast<int>(kMaxQueuedFrames);
      if (!cancelled_ && !backlogged) return true;
      if (!cancelled_) reads_paused_ = true;
      --holds_;
      finish = ShouldFinishLocked();
    }
    if (finish) Finish();
    return false;
  }
  // The client has gone or the stream was aborted: nothing more is done for it.
  bool Closed() {
    troupe::MutexLock lock(&mu_);
    return closed_;
  }

  // The reader saw the client's half-close.
  void ReadsDone() {
    bool finish = false;
    {
      troupe::MutexLock lock(&mu_);
      reads_done_ = true;
      finish = ShouldFinishLocked();
    }
    if (finish) Finish();
  }

  // The client went away: nothing more will be written, and its asks end
  // now (their reply actors exit) instead of at their deadlines.
  void Cancelled() { Close(std::nullopt); }

  void CancelAsks() {
    std::vector<AskRouter::Handle> handles;
    {
      troupe::MutexLock lock(&mu_);
      for (auto& [seq, handle] : handles_) handles.push_back(handle);
    }
    for (const AskRouter::Handle& handle : handles) asks_->Cancel(handle);
  }

  // A write completed; starts the next one or lets the stream finish.
  // True when reads paused for a backlog may resume now.
  bool WriteDone(bool ok) {
    v1::ServerBatch* to_write = nullptr;
    ClientStream* stream = nullptr;
    bool finish = false;
    bool resume = false;
    bool peer_gone = false;
    {
      troupe::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        peer_gone = !cancelled_;
        cancelled_ = true;
        reads_done_ = true;
        ReleaseQueuedLocked();
      }
      if (!cancelled_ && queued_.frames_size() > 0) {
        to_write = TakeQueuedLocked(&stream);
      } else {
        finish = ShouldFinishLocked();
      }
      if (reads_paused_ && !cancelled_ && !finished_ &&
          queued_.frames_size() < static_cast<int>(kMaxQueuedFrames / 2)) {
        reads_paused_ = false;
        resume = true;
      }
    }
    if (peer_gone) CancelAsks();
    if (to_write != nullptr) WriteTaken(stream, to_write);
    if (finish) Finish();
    return resume;
  }

  // The client broke the protocol (a malformed or oversized batch): nothing
  // more is read or written, its asks end, and the stream finishes with
  // `status` once no write is in flight.
  void Abort(grpc::Status status) { Close(std::move(status)); }

  // Cancelled (no status: the client left) or Abort.
  void Close(std::optional<grpc::Status> status) {
    bool finish = false;
    {
      troupe::MutexLock lock(&mu_);
      if (!abort_status_.has_value()) abort_status_ = std::move(status);
      cancelled_ = true;
      reads_done_ = true;
      closed_ = true;
      ReleaseQueuedLocked();
      finish = ShouldFinishLocked();
    }
    CancelAsks();
    if (finish) Finish();
  }

  void set_peer(std::string peer) { peer_ = std::move(peer); }
  // The stream was finished before it started (refused): nothing more happens.
  void MarkFinished() {
    troupe::MutexLock lock(&mu_);
    finished_ = true;
    closed_ = true;
  }

 private:
  // Takes the oldest queued frames, about kMaxWriteBytes of them (at least
  // one), as the next batch to write: one ServerBatch stays small whatever
  // the backlog.
  v1::ServerBatch* TakeQueuedLocked(ClientStream** stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    writing_batch_.Clear();
    size_t bytes = 0;
    int take = 0;
    while (take < queued_.frames_size() && (take == 0 || bytes < kMaxWriteBytes)) {
      const v1::ServerFrame& frame = queued_.frames(take++);
      bytes += frame.payload().size() + frame.type().size() + frame.from().size() +
               frame.error().size() + kFrameOverheadBytes;
    }
    if (take == queued_.frames_size()) {
      writing_batch_.Swap(&queued_);
    } else {
      std::vector<v1::ServerFrame*> taken(static_cast<size_t>(take));
      queued_.mutable_frames()->ExtractSubrange(0, take, taken.data());
      writing_batch_.mutable_frames()->Clear();
      for (v1::ServerFrame* frame : taken) writing_batch_.mutable_frames()->AddAllocated(frame);
    }
    *stream = stream_;
    return &writing_batch_;
  }
  // Serializes the batch TakeQueuedLocked took and starts its write (no lock
  // held; only the one writer touches writing_batch_ and wire_). A large
  // batch's frames are freed rather than kept for reuse, so a burst does not
  // stay resident.
  void WriteTaken(ClientStream* stream, v1::ServerBatch* batch) {
    bool own_buffer = false;
    wire_.Clear();
    (void)grpc::SerializationTraits<v1::ServerBatch>::Serialize(*batch, &wire_, &own_buffer);
    if (batch->frames_size() > kKeptFrames) *batch = v1::ServerBatch();
    stream->Write(&wire_);
  }
  // Records a new high of frames waiting (StreamDeps::peak_queued_frames).
  void NotePeakLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t queued = static_cast<size_t>(queued_.frames_size());
    if (queued <= peak_ || peak_queued_ == nullptr) return;
    peak_ = queued;
    size_t seen = peak_queued_->load(std::memory_order_relaxed);
    while (seen < queued && !peak_queued_->compare_exchange_weak(seen, queued)) {
    }
  }
  // Frees every frame waiting for a client that has gone.
  void ReleaseQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { queued_ = v1::ServerBatch(); }

  // Frames of a written batch kept allocated for the next one.
  static constexpr int kKeptFrames = 1024;
  // A written batch holds about this many bytes of frames (one frame at
  // least, whatever its size).
  static constexpr size_t kMaxWriteBytes = 1 << 20;
  static constexpr size_t kFrameOverheadBytes = 24;
  // Finish once: when the client is gone, or done sending with every ask
  // answered and every frame written.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || holds_ > 0) return false;
    const bool done =
        cancelled_ || (reads_done_ && asks_in_flight_ == 0 && queued_.frames_size() == 0);
    if (!done) return false;
    finished_ = true;
    closed_ = true;
    return true;
  }
  void Finish() {
    // No write is in flight and none will start, and nothing holds the
    // stream: the reactor is still alive.
    ClientStream* stream;
    grpc::Status status;
    {
      troupe::MutexLock lock(&mu_);
      stream = stream_;
      status = abort_status_.has_value() ? *abort_status_
               : cancelled_             ? grpc::Status::CANCELLED
                                        : grpc::Status::OK;
    }
    stream->Finish(status);
  }

  troupe::Mutex mu_;
  ClientStream* const stream_;  // valid until finished_ and OnDone
  AskRouter* const asks_;
  std::atomic<size_t>* const peak_queued_;  // may be null
  size_t peak_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ask_seq_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, AskRouter::Handle> handles_ ABSL_GUARDED_BY(mu_);
  bool reads_paused_ ABSL_GUARDED_BY(mu_) = false;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;  // see Hold
  v1::ServerBatch queued_ ABSL_GUARDED_BY(mu_);
  v1::ServerBatch writing_batch_;  // owned by the write in flight
  grpc::ByteBuffer wire_;          // its bytes, handed to gRPC
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> abort_status_ ABSL_GUARDED_BY(mu_);
  uint64_t asks_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::string peer_;
};

ClientStream::ClientStream(const StreamDeps& deps, grpc::CallbackServerContext* context)
    : deps_(deps), outbox_(std::make_shared<Outbox>(this, deps.asks, deps.peak_queued_frames)) {
  deps_.open_streams->Add();
  grpc::Status allowed;
  v1::ServerFrame hello;
  {
    // The reactions may run on other gRPC threads; see Published().
    std::lock_guard<std::mutex> publish(published_mu_);
    context_peer_ = context->peer();
    outbox_->set_peer(context_peer_);
    allowed = deps_.auth->Check(*context);
    if (allowed.ok()) {
      runtime::ActorSystem* system = deps_.system;
      std::shared_ptr<Outbox> outbox = outbox_;
      client_actor_ = system->SpawnNative(
          [system, outbox](runtime::Cell*, runtime::Message& m) {
            v1::ServerFrame frame;
            frame.set_kind(v1::ServerFrame::KIND_INCOMING);
            frame.set_from(system->FormatAddress(m.sender()));
            frame.set_type(std::string(m.type()));
            frame.set_payload(std::string(m.payload()));
            outbox->Push(std::move(frame), /*droppable=*/true);
          },
          "client");
      hello.set_kind(v1::ServerFrame::KIND_HELLO);
      hello.set_from(system->FormatAddress(client_actor_.get()));
    } else {
      outbox_->MarkFinished();
    }
  }
  if (!allowed.ok()) {
    Finish(allowed);
    return;
  }
  outbox_->Push(std::move(hello));
  StartRead(&in_);
}

void ClientStream::Published() { std::lock_guard<std::mutex> synchronized(published_mu_); }

ClientStream::~ClientStream() { deps_.open_streams->Remove(); }

void ClientStream::OnReadDone(bool ok) {
  Published();
  if (!ok) {
    outbox_->ReadsDone();
    return;
  }
  const size_t max_batch_bytes = deps_.max_payload_bytes + kBatchOverheadBytes;
  if (absl::Status outline = batch_.Reset(&in_, kMaxFramesPerBatch, max_batch_bytes);
      !outline.ok()) {
    LogWarning("ended the Connect stream of ", context_peer_, ": ", outline.message());
    outbox_->Abort(ToGrpcStatus(outline));
    return;
  }
  HandleBatch(/*held=*/false);
}

void ClientStream::HandleBatch(bool held) {
  while (!batch_.done()) {
    uint64_t id = 0;
    absl::StatusOr<v1::ClientFrame> frame = batch_.Next(&id);
    runtime::OutboxPressureWatch pressure;
    if (frame.ok()) {
      if (!Handle(*frame, held)) return;  // handed off; BlockingCalls goes on
    } else if (frame.status().code() != absl::StatusCode::kOutOfRange) {
      FailFrame(id, frame.status());
    }
    // A client that sends faster than it reads what comes back waits, in the
    // middle of its batch if need be: reads resume once the backlog is half
    // written (OnWriteDone).
    if (outbox_->PauseReadsIfBacklogged(held)) return;
    // So does one whose messages fill the outbox of a link to another daemon
    // (as an actor that does is parked): the rest of its batch goes on once
    // that outbox has drained.
    if (pressure.full() && WaitForPeerRoom(pressure.node(), held)) return;
  }
  batch_.Release();
  StartRead(&in_);
  if (held) outbox_->Release();  // after StartRead: the stream is alive until then
}

void ClientStream::FailFrame(uint64_t id, const absl::Status& status) {
  v1::ServerFrame error;
  error.set_kind(v1::ServerFrame::KIND_ERROR);
  error.set_id(id);
  error.set_code(static_cast<int32_t>(status.code()));
  error.set_error(std::string(status.message()));
  outbox_->Push(std::move(error));
}

bool ClientStream::Handle(v1::ClientFrame& frame, bool held) {
  absl::Status valid = CheckMessage(frame.type(), frame.payload().size(), deps_.max_payload_bytes);
  if (!valid.ok()) {
    FailFrame(frame.id(), BoundInputInError(valid, frame.to()));
    return true;
  }
  // A name held on another daemon is asked of the convention's leader first.
  if (IsConventionName(*deps_.system, frame.to(), deps_.names)) {
    return !HandOff(std::move(frame), held);
  }
  Send(frame, nullptr);
  return true;
}

bool ClientStream::WaitForPeerRoom(const std::string& node, bool held) {
  // As in HandOff: the hold is taken before the resume is registered, which
  // may run it (and release the hold) before ResumeWhenRoom returns.
  if (!held) outbox_->Hold();
  std::shared_ptr<Outbox> outbox = outbox_;
  if (deps_.system->ResumeWhenRoom(node, [this, outbox] {
        if (outbox->ContinueBatch()) HandleBatch(/*held=*/true);
      })) {
    return true;
  }
  if (!held) outbox_->Release();  // in a reaction: the stream stays alive
  return false;
}

bool ClientStream::HandOff(v1::ClientFrame&& frame, bool held) {
  const uint64_t id = frame.id();
  std::string to = frame.to();  // for a refusal's error
  // The hold is taken before the call is queued: it may run, and release
  // the hold, before Run returns.
  if (!held) outbox_->Hold();
  // The call keeps the outbox: once ContinueBatch lets go of the stream, the
  // stream may be gone before the call returns.
  absl::Status queued = deps_.blocking->Run(
      [this, outbox = outbox_, frame = std::move(frame)](const absl::Status& admitted) mutable {
        if (!admitted.ok()) {
          FailFrame(frame.id(), BoundInputInError(admitted, frame.to()));
        } else if (!outbox->Closed()) {  // nothing is done for a client gone
          Send(frame, deps_.names);
        }
        if (outbox->ContinueBatch()) HandleBatch(/*held=*/true);
      });
  if (queued.ok()) return true;
  FailFrame(id, BoundInputInError(queued, to));
  if (!held) outbox_->Release();  // in a reaction: the stream stays alive
  return false;
}

void ClientStream::Send(v1::ClientFrame& frame, const ConventionNames* names) {
  const uint64_t id = frame.id();
  // Errors quote the client's target at most in part (a 1 MB address must not
  // come back as a 2 MB error).
  auto fail = [&](const absl::Status& status) {
    FailFrame(id, BoundInputInError(status, frame.to()));
  };
  if (!frame.ask()) {
    absl::Status sent =
        SendTo(*deps_.system, frame.to(), runtime::Message::Make(frame.type(), frame.payload()),
               client_actor_, names);
    if (!sent.ok()) fail(sent);
    return;
  }
  const uint64_t seq = outbox_->BeginAsk();
  if (seq == 0) {
    return fail(absl::ResourceExhaustedError(
        troupe::StrCat("this stream already has ", kMaxAsksInFlight,
                       " asks in flight; wait for replies before asking more")));
  }
  const absl::Duration timeout =
      frame.timeout_ms() == 0 ? absl::Seconds(30) : absl::Milliseconds(frame.timeout_ms());
  std::shared_ptr<Outbox> outbox = outbox_;
  outbox_->SetHandle(seq,
                     deps_.asks->Ask(
                         frame.to(), runtime::Message::Make(frame.type(), frame.payload()), timeout,
                         [outbox, seq, id](absl::StatusOr<AskReply> reply) {
                           outbox->EndAsk(seq, id, std::move(reply));
                         },
                         names));
}

void ClientStream::OnWriteDone(bool ok) {
  Published();
  { std::lock_guard<std::recursive_mutex> written(write_mu_); }  // see Write
  if (outbox_->WriteDone(ok)) HandleBatch(/*held=*/false);
}

void ClientStream::OnCancel() {
  Published();
  outbox_->Cancelled();
}

void ClientStream::OnDone() {
  Published();
  if (client_actor_) (void)deps_.system->RequestExit(client_actor_);
  delete this;
}

}  // namespace troupe::service
