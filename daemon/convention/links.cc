// links.cc - see links.h.
#include "daemon/convention/links.h"

#include <memory>
#include <utility>
#include <vector>

#include "daemon/common/call_counter.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"
#include "proto/grpc_status.h"

namespace troupe::convention {

namespace {
constexpr std::string_view kLinkMethod = "/troupe.v1.Convention/Link";
}  // namespace

// One outbound link: its queue (link_queue.h) and the stream that carries it.
// Whoever gets a step with `write` from the queue holds the writer's turn
// and starts the write on the current stream: a sender's worker when the
// stream is idle (StartWrite only hands the batch to gRPC; it never waits),
// else the reaction of the write before. Kept alive by Links and by its
// streams.
class Links::Peer : public std::enable_shared_from_this<Peer> {
 public:
  Peer(std::string node, Links* links)
      : node_(std::move(node)),
        links_(links),
        queue_(LinkQueueOptions{links->options_.outbox_limit_bytes,
                                links->options_.outbox_limit_bytes / 2,
                                links->options_.batch_envelopes, links->options_.batch_bytes}) {}

  const std::string& node() const { return node_; }
  Links* links() const { return links_; }

  // Queues a message (see LinkQueue::Push). False (the message untouched)
  // when the link is closed; `over_bound` when the sender should park.
  bool Push(uint64_t to, runtime::Message& message, bool* over_bound) {
    LinkQueue::PushResult pushed;
    LinkCall* call;
    {
      troupe::MutexLock lock(&mu_);
      pushed = queue_.Push(to, message);
      call = current_.get();
    }
    if (!pushed.accepted) return false;
    *over_bound = pushed.over_bound;
    Run(std::move(pushed.step), call);
    return true;
  }

  bool ResumeWhenRoom(std::function<void()> resume) {
    return queue_.ResumeWhenRoom(std::move(resume));
  }

  // Closes the link: queued messages become undeliverable, parked senders
  // wake, the stream is cancelled.
  void Close(std::string_view reason);

  uint64_t queued() const { return queue_.queued(); }

  // ---- Called by the link's stream (LinkCall) ----
  void Proven(LinkCall* call) {
    LinkStep step;
    {
      troupe::MutexLock lock(&mu_);
      if (call != current_.get()) return;
      step = queue_.Connected();
    }
    Run(std::move(step), call);
  }
  void WriteEnded(LinkCall* call, bool ok) {
    LinkStep step;
    {
      troupe::MutexLock lock(&mu_);
      if (ok) {
        step = queue_.WriteDone();
      } else {
        if (call == current_.get()) current_ = nullptr;
        step = queue_.WriteFailed(troupe::StrCat("the link to ", node_, " broke"));
      }
    }
    Run(std::move(step), call);
  }
  void ReadEnded(LinkCall* call) {
    LinkStep step;
    {
      troupe::MutexLock lock(&mu_);
      if (call != current_.get()) return;
      current_ = nullptr;
      step = queue_.Broken();
    }
    Run(std::move(step), nullptr);
  }
  void ConnectFailed(LinkCall* call, const std::string& why) {
    LinkStep step;
    {
      troupe::MutexLock lock(&mu_);
      if (call != current_.get()) return;
      current_ = nullptr;
      step = queue_.ConnectFailed(troupe::StrCat("cannot reach ", node_, ": ", why));
    }
    LogWarning("convention: cannot open a link to ", node_, ": ", why);
    Run(std::move(step), nullptr);
  }
  // The stream is done; returns it (the peer's reference) so that it is
  // not destroyed under the peer's lock.
  std::shared_ptr<LinkCall> Ended(LinkCall* call) {
    troupe::MutexLock lock(&mu_);
    if (call != current_.get()) return nullptr;
    return std::move(current_);
  }
  void Report(v1::LinkReport& report) {
    for (v1::Envelope& e : *report.mutable_undeliverable()) {
      runtime::ActorRef sender;
      if (!e.from().empty()) {
        absl::StatusOr<runtime::ActorRef> parsed = links_->system_->ParseAddress(e.from());
        if (parsed.ok()) sender = *std::move(parsed);
      }
      links_->system_->Undeliverable(
          node_, e.to(), runtime::Message::Make(e.type(), e.payload(), sender.get()),
          report.reason());
    }
  }

 private:
  // Carries out a step; `call` is the stream a `write` goes to.
  void Run(LinkStep step, LinkCall* call);
  void StartStream();

  const std::string node_;
  Links* const links_;
  LinkQueue queue_;
  mutable troupe::Mutex mu_;  // before queue_'s
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<LinkCall> current_ ABSL_GUARDED_BY(mu_);  // the stream in use
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<v1::Convention::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

// One Link stream to a peer, on gRPC's callback API. A hold keeps the call
// from completing while a write may still start on it: released once the
// stream has ended (reads failed, a write failed, the proof was refused) and
// no write is under way. Owned by itself from Start to OnDone, and by its
// peer while it is the peer's current stream.
class Links::LinkCall final : public grpc::ClientBidiReactor<v1::EnvelopeBatch, v1::LinkReport> {
 public:
  LinkCall(std::shared_ptr<Peer> peer, v1::Convention::Stub* stub) : peer_(std::move(peer)) {
    peer_->links()->open_calls_.Add();
    signature_ = peer_->links()->options_.guard->Sign(&context_, kLinkMethod);
    stub->async()->Link(&context_, this);
    AddHold();
  }

  void Start(std::shared_ptr<LinkCall> self) {
    self_ = std::move(self);
    StartCall();
  }
  void Cancel() { context_.TryCancel(); }

  // Writes `batch` (the writer's turn).
  void Write(const std::vector<Outgoing>& batch) {
    {
      troupe::MutexLock lock(&mu_);
      writing_ = true;
    }
    out_.Clear();
    if (first_batch_) out_.set_from_node(peer_->links()->options_.self);
    first_batch_ = false;
    runtime::ActorSystem* system = peer_->links()->system_;
    for (const Outgoing& o : batch) {
      const runtime::Message& m = o.message;
      v1::Envelope* e = out_.add_envelopes();
      e->set_to(o.to);
      if (m.sender() != last_sender_.get()) {
        // The reference keeps the cell (and so its address in memory) from
        // being reused by another actor while its text is cached.
        last_sender_ = runtime::ActorRef::Share(m.sender());
        last_from_ = system->FormatAddress(m.sender());
      }
      e->set_from(last_from_);
      e->set_type(m.type().data(), m.type().size());
      e->set_payload(m.payload().data(), m.payload().size());
    }
    // Publishes the reads of `batch` to whoever takes the next one (after
    // OnWriteDone, which takes mu_ first): gRPC's own hand-over from here to
    // that reaction is invisible to ThreadSanitizer.
    { troupe::MutexLock published(&mu_); }
    StartWrite(&out_);
  }

  void OnReadInitialMetadataDone(bool ok) override {
    absl::Status proven = ok ? peer_->links()->options_.guard->CheckAnswer(context_, signature_)
                             : absl::UnavailableError("the call failed");
    if (!proven.ok()) {
      {
        troupe::MutexLock lock(&mu_);
        if (ok) refusal_ = std::string(proven.message());
        ended_ = true;
      }
      if (ok) context_.TryCancel();  // answered without proof: cut off
      MaybeReleaseHold();
      return;
    }
    {
      troupe::MutexLock lock(&mu_);
      proven_ = true;
    }
    StartRead(&report_);
    peer_->Proven(this);
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      peer_->Report(report_);
      StartRead(&report_);
      return;
    }
    {
      troupe::MutexLock lock(&mu_);
      ended_ = true;
    }
    peer_->ReadEnded(this);
    MaybeReleaseHold();
  }

  void OnWriteDone(bool ok) override {
    {
      troupe::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) ended_ = true;
    }
    if (!ok) context_.TryCancel();
    peer_->WriteEnded(this, ok);  // may start the next write on this call
    MaybeReleaseHold();
  }

  void OnDone(const grpc::Status& status) override {
    bool proven;
    std::string why;
    {
      troupe::MutexLock lock(&mu_);
      proven = proven_;
      why = !refusal_.empty() ? refusal_ : status.error_message();
    }
    if (!proven) {
      if (why.empty()) why = "the stream ended before the peer answered";
      peer_->ConnectFailed(this, why);
    }
    std::shared_ptr<LinkCall> peers_reference = peer_->Ended(this);
    Links* links = peer_->links();
    last_sender_ = runtime::ActorRef();
    peer_.reset();
    std::shared_ptr<LinkCall> self = std::move(self_);
    peers_reference.reset();
    self.reset();  // `this` may be gone now
    links->open_calls_.Remove();
  }

 private:
  void MaybeReleaseHold() {
    {
      troupe::MutexLock lock(&mu_);
      if (!ended_ || writing_ || released_) return;
      released_ = true;
    }
    RemoveHold();
  }

  std::shared_ptr<Peer> peer_;
  std::shared_ptr<LinkCall> self_;
  grpc::ClientContext context_;
  peerauth::CallSignature signature_;
  v1::LinkReport report_;
  troupe::Mutex mu_;
  bool proven_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::string refusal_ ABSL_GUARDED_BY(mu_);
  // The writer's turn owns these.
  v1::EnvelopeBatch out_;
  bool first_batch_ = true;
  runtime::ActorRef last_sender_;
  std::string last_from_;
};

void Links::Peer::Close(std::string_view reason) {
  LinkStep step;
  std::shared_ptr<LinkCall> call;
  {
    troupe::MutexLock lock(&mu_);
    closed_ = true;
    step = queue_.Close(std::string(reason));
    call = current_;
  }
  // Outside the lock: gRPC may run the call's reactions on this thread.
  if (call != nullptr) call->Cancel();
  Run(std::move(step), nullptr);
}

void Links::Peer::Run(LinkStep step, LinkCall* call) {
  for (Outgoing& o : step.failed) {
    links_->system_->Undeliverable(node_, o.to, std::move(o.message), step.reason);
  }
  for (std::function<void()>& resume : step.resume) resume();
  if (step.connect) StartStream();
  if (step.write) call->Write(queue_.in_flight());
}

void Links::Peer::StartStream() {
  std::shared_ptr<LinkCall> call;
  {
    troupe::MutexLock lock(&mu_);
    if (closed_) return;  // Close failed what was queued
    if (channel_ == nullptr) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetMaxSendMessageSize(links_->options_.max_message_bytes);
      args.SetMaxReceiveMessageSize(links_->options_.max_message_bytes);
      channel_ =
          grpc::CreateCustomChannel(node_, links_->options_.guard->ChannelCredentials(), args);
      stub_ = v1::Convention::NewStub(channel_);
    }
    call = std::make_shared<LinkCall>(shared_from_this(), stub_.get());
    current_ = call;
  }
  call->Start(call);
}

Links::Links(LinkOptions options, runtime::ActorSystem* system, const Directory* directory)
    : options_(std::move(options)), system_(system), directory_(directory) {}

Links::~Links() { Stop(); }

std::shared_ptr<Links::Peer> Links::PeerFor(std::string_view node, bool make) {
  troupe::MutexLock lock(&mu_);
  if (stopped_) return nullptr;
  auto it = peers_.find(std::string(node));
  if (it != peers_.end()) return it->second;
  if (!make || !directory_->Contains(node)) return nullptr;
  auto peer = std::make_shared<Peer>(std::string(node), this);
  peers_.emplace(std::string(node), peer);
  return peer;
}

bool Links::Forward(std::string_view node, uint64_t remote_id, runtime::Message message) {
  std::shared_ptr<Peer> peer = PeerFor(node, true);
  bool over_bound = false;
  if (peer != nullptr && peer->Push(remote_id, message, &over_bound)) return !over_bound;
  system_->Undeliverable(node, remote_id, std::move(message),
                         troupe::StrCat("node ", node, " is not a member of this convention"));
  return true;
}

bool Links::ResumeWhenRoom(std::string_view node, std::function<void()> resume) {
  std::shared_ptr<Peer> peer = PeerFor(node, false);
  return peer != nullptr && peer->ResumeWhenRoom(std::move(resume));
}

void Links::PeerLost(std::string_view node, std::string_view reason) {
  std::shared_ptr<Peer> peer;
  {
    troupe::MutexLock lock(&mu_);
    auto it = peers_.find(std::string(node));
    if (it == peers_.end()) return;
    peer = std::move(it->second);
    peers_.erase(it);
  }
  peer->Close(troupe::StrCat(node, " left the convention: ", reason));
}

void Links::Stop(absl::Time deadline) {
  absl::flat_hash_map<std::string, std::shared_ptr<Peer>> peers;
  {
    troupe::MutexLock lock(&mu_);
    stopped_ = true;
    peers.swap(peers_);
  }
  for (auto& [node, peer] : peers) peer->Close("this daemon is stopping");
  peers.clear();
  if (!open_calls_.WaitForZero(deadline)) {
    LogWarning("convention: ", open_calls_.count(), " link streams did not end in time");
  }
}

uint64_t Links::queued() const {
  troupe::MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& [node, peer] : peers_) n += peer->queued();
  return n;
}

namespace {

// One peer's Link stream, served on the callback API. gRPC runs one reaction
// at a time; the mutex publishes the reactor's state from one reaction to the
// next to ThreadSanitizer (gRPC's own hand-over is invisible to it).
class LinkReactor final : public grpc::ServerBidiReactor<v1::EnvelopeBatch, v1::LinkReport> {
 public:
  LinkReactor(runtime::ActorSystem* system, CallCounter* open) : system_(system), open_(open) {
    open_->Add();
    troupe::MutexLock lock(&mu_);
    StartSendInitialMetadata();
    StartRead(&batch_);
  }

  // Delivers the batch without holding `mu_`: a delivery may run a reply
  // handler inline (an ask answered from this peer), which is not this
  // reactor's code and must not run under its lock.
  void OnReadDone(bool ok) override {
    v1::EnvelopeBatch batch;
    {
      troupe::MutexLock lock(&mu_);
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      batch.Swap(&batch_);
    }
    v1::LinkReport report;
    for (v1::Envelope& e : *batch.mutable_envelopes()) {
      absl::Status delivered = system_->DeliverFromRemote(e.to(), e.from(), e.type(), e.payload());
      if (!delivered.ok()) {
        if (report.reason().empty()) report.set_reason(std::string(delivered.message()));
        *report.add_undeliverable() = std::move(e);
      }
    }
    troupe::MutexLock lock(&mu_);
    batch.Clear();
    batch_.Swap(&batch);  // keeps the envelopes' allocations for the next read
    report_.Swap(&report);
    if (report_.undeliverable_size() > 0) {
      StartWrite(&report_);  // then the next read
    } else {
      StartRead(&batch_);
    }
  }

  void OnWriteDone(bool ok) override {
    troupe::MutexLock lock(&mu_);
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    StartRead(&batch_);
  }

  void OnSendInitialMetadataDone(bool) override {}
  void OnDone() override {
    CallCounter* open = open_;
    delete this;
    open->Remove();
  }

 private:
  runtime::ActorSystem* const system_;
  CallCounter* const open_;
  troupe::Mutex mu_;
  v1::EnvelopeBatch batch_ ABSL_GUARDED_BY(mu_);
  v1::LinkReport report_ ABSL_GUARDED_BY(mu_);
};

class RefusedLink final : public grpc::ServerBidiReactor<v1::EnvelopeBatch, v1::LinkReport> {
 public:
  explicit RefusedLink(const absl::Status& why) {
    Finish(ToGrpcStatus(why));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<v1::EnvelopeBatch, v1::LinkReport>* Links::Serve(
    grpc::CallbackServerContext* context,
    const std::function<absl::StatusOr<std::string>()>& authenticate) {
  (void)context;
  absl::StatusOr<std::string> peer = authenticate();
  if (!peer.ok()) return new RefusedLink(peer.status());
  return new LinkReactor(system_, &open_links_);
}

}  // namespace troupe::convention
