// links.cc - see links.h.
#include "daemon/convention/links.h"

#include <utility>
#include <vector>

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

// One outbound link: a queue, a writer thread that owns the stream, and a
// reader thread for the peer's reports.
class Links::Peer {
 public:
  Peer(std::string node, Links* links) : node_(std::move(node)), links_(links) {}
  ~Peer() { Close("the link is closing"); }

  // Queues a message; waits while the outbox is over its limit. False (the
  // message untouched) when the link is closed.
  bool Push(uint64_t to, runtime::Message& message) {
    troupe::MutexLock lock(&mu_);
    while (!closed_ && bytes_ >= links_->options_.outbox_limit_bytes) space_cv_.Wait(&mu_);
    if (closed_) return false;
    bytes_ += SizeOf(message);
    queue_.push_back(Pending{to, std::move(message)});
    if (!writer_.joinable()) {
      writer_ = std::thread([this] { WriterLoop(); });
    } else if (writer_idle_) {
      cv_.Signal();
    }
    return true;
  }

  // Closes the link: stops its threads (unless called from one of them) and
  // makes what is queued undeliverable.
  void Close(std::string_view reason) {
    std::vector<Pending> left;
    std::thread writer;
    {
      troupe::MutexLock lock(&mu_);
      if (!closed_) {
        closed_ = true;
        reason_ = std::string(reason);
      }
      if (context_ != nullptr) context_->TryCancel();
      cv_.SignalAll();
      space_cv_.SignalAll();
      if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) {
        writer = std::move(writer_);
      }
    }
    if (writer.joinable()) writer.join();
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

  // Opens the stream; false (with `why`) when the peer cannot be reached or
  // does not prove the convention key.
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
    reader_ = std::thread([this] { ReaderLoop(); });
    return true;
  }

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

  void WriterLoop() {
    std::vector<Pending> batch;
    bool connected = false;
    bool first = true;
    // The last sender's printed address. The reference keeps the cell (and
    // so its address in memory) from being reused by another actor while cached.
    runtime::ActorRef last_sender;
    std::string last_from;
    for (;;) {
      {
        troupe::MutexLock lock(&mu_);
        while (!closed_ && queue_.empty()) {
          writer_idle_ = true;
          cv_.Wait(&mu_);
        }
        writer_idle_ = false;
        if (closed_) break;
        batch.swap(queue_);
        in_flight_ = batch.size();
      }
      if (!connected) {
        std::string why;
        connected = Connect(&why);
        first = true;
        if (!connected) {
          LogWarning("convention: cannot open a link to ", node_, ": ", why);
          Disconnect();
          Release(batch);
          Fail(batch, troupe::StrCat("cannot reach ", node_, ": ", why));
          continue;
        }
      }
      size_t i = 0;
      bool broke = false;
      while (i < batch.size() && !broke) {
        v1::EnvelopeBatch out;
        if (first) out.set_from_node(links_->options_.self);
        first = false;
        size_t bytes = 0;
        const size_t start = i;
        for (; i < batch.size() && i - start < links_->options_.batch_envelopes &&
               bytes < links_->options_.batch_bytes;
             ++i) {
          const runtime::Message& m = batch[i].message;
          v1::Envelope* e = out.add_envelopes();
          e->set_to(batch[i].to);
          if (m.sender() != last_sender.get()) {
            last_sender = runtime::ActorRef::Share(m.sender());
            last_from = links_->system_->FormatAddress(m.sender());
          }
          e->set_from(last_from);
          e->set_type(m.type().data(), m.type().size());
          e->set_payload(m.payload().data(), m.payload().size());
          bytes += m.payload().size() + m.type().size();
        }
        if (!stream_->Write(out)) {
          broke = true;
          i = start;
        }
        // Written envelopes are the peer's now; free them and their room.
        uint64_t freed = 0;
        for (size_t k = start; k < (broke ? start : i); ++k) {
          freed += SizeOf(batch[k].message);
          batch[k].message.Reset();
        }
        troupe::MutexLock lock(&mu_);
        bytes_ -= std::min(bytes_, freed);
        in_flight_ = batch.size() - i;
        space_cv_.SignalAll();
      }
      if (broke) {
        std::vector<Pending> unsent(std::make_move_iterator(batch.begin() + static_cast<long>(i)),
                                    std::make_move_iterator(batch.end()));
        Disconnect();
        connected = false;
        Release(unsent);
        Fail(unsent, troupe::StrCat("the link to ", node_, " broke"));
      }
      batch.clear();
      troupe::MutexLock lock(&mu_);
      in_flight_ = 0;
    }
    Disconnect();
    Fail(batch, reason_);
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
  troupe::CondVar cv_;        // the writer waits for work
  troupe::CondVar space_cv_;  // senders wait for room
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_idle_ ABSL_GUARDED_BY(mu_) = false;
  std::string reason_;  // written once under mu_ when closed_ is set
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread writer_;
  // Writer-thread state.
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Convention::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_owner_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::EnvelopeBatch, v1::LinkReport>> stream_;
  std::thread reader_;
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

grpc::Status Links::Serve(grpc::ServerContext* context,
                          grpc::ServerReaderWriter<v1::LinkReport, v1::EnvelopeBatch>* stream,
                          std::string_view peer) {
  (void)context;
  stream->SendInitialMetadata();
  v1::EnvelopeBatch batch;
  v1::LinkReport report;
  while (stream->Read(&batch)) {
    for (v1::Envelope& e : *batch.mutable_envelopes()) {
      absl::Status delivered = system_->DeliverFromRemote(e.to(), e.from(), e.type(), e.payload());
      if (!delivered.ok()) {
        if (report.reason().empty()) report.set_reason(std::string(delivered.message()));
        *report.add_undeliverable() = std::move(e);
      }
    }
    if (report.undeliverable_size() > 0) {
      if (!stream->Write(report)) break;
      report.Clear();
    }
  }
  (void)peer;
  return grpc::Status::OK;
}

}  // namespace troupe::convention
