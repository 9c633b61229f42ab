// links.cc - see links.h.
#include "daemon/convention/links.h"

#include <utility>
#include <vector>

#include "daemon/common/call_counter.h"
#include "daemon/common/logging.h"
#include "daemon/common/strings.h"

namespace troupe::convention {

namespace {
constexpr std::string_view kLinkMethod = "/troupe.v1.Convention/Link";

struct Pending {
  uint64_t to;
  runtime::Message message;
};

uint64_t SizeOf(const runtime::Message& m) { return m.type().size() + m.payload().size() + 64; }
}  // namespace

// One outbound link. Whoever finds the link connected and nobody writing
// writes: usually the sending actor's own worker (no thread hop on the way
// out), and everything queued meanwhile goes out with it as one batch. A
// thread of the link opens the stream (a dial may take long; no actor waits
// for it), writes when no sender does, and reopens a broken stream on the
// next message. A reader thread takes the peer's reports.
class Links::Peer {
 public:
  Peer(std::string node, Links* links) : node_(std::move(node)), links_(links) {}
  ~Peer() { Close("the link is closing"); }

  // Queues a message and writes it (with what else is queued) when this
  // thread may; waits while the outbox is over its limit. False (the
  // message untouched) when the link is closed.
  bool Push(uint64_t to, runtime::Message& message) {
    {
      troupe::MutexLock lock(&mu_);
      while (!closed_ && bytes_ >= links_->options_.outbox_limit_bytes) space_cv_.Wait(&mu_);
      if (closed_) return false;
      bytes_ += SizeOf(message);
      queue_.push_back(Pending{to, std::move(message)});
      if (!thread_.joinable()) thread_ = std::thread([this] { LinkLoop(); });
      if (writing_) return true;  // the writer takes it with the rest
      // A sender writes itself only on a quiet link (a lone message: the
      // fastest way out). Right after a write (a sender's loop) the link's
      // thread writes instead, so that what queues meanwhile goes in batches.
      if (!connected_ ||
          absl::GetCurrentTimeNanos() - last_write_end_ns_ < kQuietNanos) {
        cv_.Signal();  // the link's thread connects or writes
        return true;
      }
      writing_ = true;
    }
    Drain();
    return true;
  }

  // Closes the link: stops its threads (unless called from one of them) and
  // makes what is queued undeliverable.
  void Close(std::string_view reason) {
    std::vector<Pending> left;
    std::thread thread;
    {
      troupe::MutexLock lock(&mu_);
      if (!closed_) {
        closed_ = true;
        reason_ = std::string(reason);
      }
      if (context_ != nullptr) context_->TryCancel();
      cv_.SignalAll();
      space_cv_.SignalAll();
      if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
        thread = std::move(thread_);
      }
    }
    if (thread.joinable()) thread.join();
    {
      troupe::MutexLock lock(&mu_);
      left.swap(queue_);
      bytes_ = 0;
    }
    Fail(left, reason_);
  }

  uint64_t queued() const {
    troupe::MutexLock lock(&mu_);
    return queue_.size() + in_flight_;
  }

 private:
  void Fail(std::vector<Pending>& messages, std::string_view reason) {
    for (Pending& p : messages) {
      links_->system_->Undeliverable(node_, p.to, std::move(p.message), reason);
    }
    messages.clear();
  }

  // Writes until the queue is empty. The caller holds the writer's turn
  // (writing_); Drain gives it back.
  void Drain() {
    std::vector<Pending> batch;
    for (;;) {
      {
        troupe::MutexLock lock(&mu_);
        if (queue_.empty() || closed_ || !connected_) {
          writing_ = false;
          if (!queue_.empty() || closed_) cv_.Signal();  // the link's thread takes over
          return;
        }
        batch.swap(queue_);
        in_flight_ = batch.size();
      }
      const size_t written = WriteBatch(batch);
      if (written < batch.size()) {
        std::vector<Pending> unsent(
            std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(written)),
            std::make_move_iterator(batch.end()));
        Release(unsent);
        {
          troupe::MutexLock lock(&mu_);
          connected_ = false;  // the link's thread reopens it for the next message
          writing_ = false;
          cv_.Signal();
        }
        Fail(unsent, troupe::StrCat("the link to ", node_, " broke"));
        return;
      }
      batch.clear();
    }
  }

  // Writes `batch` in gRPC messages of bounded size; how many envelopes were
  // written (all, unless the stream broke). Needs the writer's turn.
  size_t WriteBatch(std::vector<Pending>& batch) {
    size_t i = 0;
    while (i < batch.size()) {
      v1::EnvelopeBatch out;
      if (first_batch_) out.set_from_node(links_->options_.self);
      first_batch_ = false;
      size_t bytes = 0;
      const size_t start = i;
      for (; i < batch.size() && i - start < links_->options_.batch_envelopes &&
             bytes < links_->options_.batch_bytes;
           ++i) {
        const runtime::Message& m = batch[i].message;
        v1::Envelope* e = out.add_envelopes();
        e->set_to(batch[i].to);
        if (m.sender() != last_sender_.get()) {
          // The reference keeps the cell (and so its address in memory)
          // from being reused by another actor while its text is cached.
          last_sender_ = runtime::ActorRef::Share(m.sender());
          last_from_ = links_->system_->FormatAddress(m.sender());
        }
        e->set_from(last_from_);
        e->set_type(m.type().data(), m.type().size());
        e->set_payload(m.payload().data(), m.payload().size());
        bytes += m.payload().size() + m.type().size();
      }
      const bool written = stream_->Write(out);
      {
        troupe::MutexLock lock(&mu_);
        last_write_end_ns_ = absl::GetCurrentTimeNanos();
      }
      if (!written) return start;
      // Written envelopes are the peer's now; free them and their room.
      uint64_t freed = 0;
      for (size_t k = start; k < i; ++k) {
        freed += SizeOf(batch[k].message);
        batch[k].message.Reset();
      }
      troupe::MutexLock lock(&mu_);
      bytes_ -= std::min(bytes_, freed);
      in_flight_ = batch.size() - i;
      space_cv_.SignalAll();
    }
    return i;
  }

  // Opens the stream; false (with `why`) when the peer cannot be reached or
  // does not prove the convention key. Needs the writer's turn.
  bool Connect(std::string* why) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxSendMessageSize(links_->options_.max_message_bytes);
    args.SetMaxReceiveMessageSize(links_->options_.max_message_bytes);
    channel_ = grpc::CreateCustomChannel(node_, links_->options_.guard->ChannelCredentials(), args);
    stub_ = v1::Convention::NewStub(channel_);
    auto context = std::make_unique<grpc::ClientContext>();
    const peerauth::CallSignature signature =
        links_->options_.guard->Sign(context.get(), kLinkMethod);
    {
      troupe::MutexLock lock(&mu_);
      if (closed_) {
        *why = reason_;
        return false;
      }
      context_ = context.get();
    }
    stream_ = stub_->Link(context.get());
    stream_->WaitForInitialMetadata();
    absl::Status answer = links_->options_.guard->CheckAnswer(*context, signature);
    context_owner_ = std::move(context);
    if (!answer.ok()) {
      // A peer that is gone has failed the call already (its status says
      // why); one that answered without proof is cut off.
      context_owner_->TryCancel();
      grpc::Status status = stream_->Finish();
      stream_.reset();  // finished: Disconnect must not finish it again
      *why = status.ok() || status.error_code() == grpc::StatusCode::CANCELLED
                 ? std::string(answer.message())
                 : status.error_message();
      return false;
    }
    first_batch_ = true;
    reader_ = std::thread([this] { ReaderLoop(); });
    return true;
  }

  // Ends the stream and its reader. Needs the writer's turn.
  void Disconnect() {
    if (context_owner_ != nullptr) context_owner_->TryCancel();
    if (reader_.joinable()) reader_.join();
    if (stream_ != nullptr) (void)stream_->Finish();
    stream_.reset();
    {
      troupe::MutexLock lock(&mu_);
      context_ = nullptr;
    }
    context_owner_.reset();
  }

  void ReaderLoop() {
    v1::LinkReport report;
    while (stream_->Read(&report)) {
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
  }

  // The link's thread: opens (and reopens) the stream, and writes what no
  // sender is writing.
  void LinkLoop() {
    for (;;) {
      {
        troupe::MutexLock lock(&mu_);
        while (!closed_ && (writing_ || queue_.empty())) cv_.Wait(&mu_);
        if (closed_) break;
        writing_ = true;
      }
      if (!ConnectedOrFailed()) continue;
      Drain();
    }
    // Closed: wait for a sender still writing (its Write fails now), then
    // end the stream.
    {
      troupe::MutexLock lock(&mu_);
      while (writing_) cv_.Wait(&mu_);
      writing_ = true;
    }
    Disconnect();
    last_sender_ = runtime::ActorRef();
  }

  // With the writer's turn: true when the stream is open (opened now if
  // needed); otherwise fails what is queued, gives the turn back, false.
  bool ConnectedOrFailed() {
    {
      troupe::MutexLock lock(&mu_);
      if (connected_) return true;
    }
    Disconnect();  // a broken stream before
    std::string why;
    if (Connect(&why)) {
      troupe::MutexLock lock(&mu_);
      connected_ = true;
      return true;
    }
    LogWarning("convention: cannot open a link to ", node_, ": ", why);
    Disconnect();
    std::vector<Pending> queued;
    {
      troupe::MutexLock lock(&mu_);
      queued.swap(queue_);
      bytes_ = 0;
      writing_ = false;
      space_cv_.SignalAll();
      cv_.SignalAll();
    }
    Fail(queued, troupe::StrCat("cannot reach ", node_, ": ", why));
    return false;
  }

  // Gives back the outbox room of messages that leave without being written.
  void Release(const std::vector<Pending>& messages) {
    uint64_t freed = 0;
    for (const Pending& p : messages) {
      if (p.message) freed += SizeOf(p.message);
    }
    troupe::MutexLock lock(&mu_);
    bytes_ -= std::min(bytes_, freed);
    in_flight_ = 0;
    space_cv_.SignalAll();
  }

  const std::string node_;
  Links* const links_;
  mutable troupe::Mutex mu_;
  troupe::CondVar cv_;        // the link's thread waits for work or the turn
  troupe::CondVar space_cv_;  // senders wait for room
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  // The writer's turn: whoever set it owns the stream and the state below.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // When the last write to the stream ended (absl::GetCurrentTimeNanos).
  int64_t last_write_end_ns_ ABSL_GUARDED_BY(mu_) = 0;
  // How long after a write the link counts as busy.
  static constexpr int64_t kQuietNanos = 50'000;
  std::string reason_;  // written once under mu_ when closed_ is set
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
  // Owned by the writer's turn.
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Convention::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_owner_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::EnvelopeBatch, v1::LinkReport>> stream_;
  std::thread reader_;
  bool first_batch_ = true;
  runtime::ActorRef last_sender_;
  std::string last_from_;
};

Links::Links(LinkOptions options, runtime::ActorSystem* system, const Directory* directory)
    : options_(std::move(options)), system_(system), directory_(directory) {}

Links::~Links() { Stop(); }

std::shared_ptr<Links::Peer> Links::PeerFor(std::string_view node) {
  troupe::MutexLock lock(&mu_);
  if (stopped_) return nullptr;
  auto it = peers_.find(std::string(node));
  if (it != peers_.end()) return it->second;
  if (!directory_->Contains(node)) return nullptr;
  auto peer = std::make_shared<Peer>(std::string(node), this);
  peers_.emplace(std::string(node), peer);
  return peer;
}

void Links::Forward(std::string_view node, uint64_t remote_id, runtime::Message message) {
  std::shared_ptr<Peer> peer = PeerFor(node);
  if (peer != nullptr && peer->Push(remote_id, message)) return;
  system_->Undeliverable(node, remote_id, std::move(message),
                         troupe::StrCat("node ", node, " is not a member of this convention"));
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

void Links::Stop() {
  absl::flat_hash_map<std::string, std::shared_ptr<Peer>> peers;
  {
    troupe::MutexLock lock(&mu_);
    stopped_ = true;
    peers.swap(peers_);
  }
  for (auto& [node, peer] : peers) peer->Close("this daemon is stopping");
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

  void OnReadDone(bool ok) override {
    troupe::MutexLock lock(&mu_);
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    report_.Clear();
    for (v1::Envelope& e : *batch_.mutable_envelopes()) {
      absl::Status delivered = system_->DeliverFromRemote(e.to(), e.from(), e.type(), e.payload());
      if (!delivered.ok()) {
        if (report_.reason().empty()) report_.set_reason(std::string(delivered.message()));
        *report_.add_undeliverable() = std::move(e);
      }
    }
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
    Finish(grpc::Status(static_cast<grpc::StatusCode>(why.code()), std::string(why.message())));
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
