// links.h - direct daemon-to-daemon message links: how the convention's
// runtime::Cluster carries messages. Each daemon opens one Link stream to each peer it sends to
// (gRPC's callback API: no thread of its own) and writes batches of envelopes
// on it, one write at a time, so order is kept per sender-receiver pair.
// Flow control: the receiver reads the next batch only after delivering the
// current one, HTTP/2 flow control holds the write, and a peer's outbox is
// bounded (outbox_limit_bytes): a send that finds it full is still taken, and
// its sender is told to park until the outbox drains below half the bound,
// so a slow or stopped receiver slows its senders, never a worker thread,
// and this daemon does not grow. Private to daemon/convention.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "daemon/common/call_counter.h"
#include "daemon/common/mutex.h"
#include "daemon/convention/directory.h"
#include "daemon/convention/link_queue.h"
#include "daemon/convention/peer_guard.h"
#include "daemon/runtime/actor_system.h"
#include "grpcpp/grpcpp.h"
#include "troupe/v1/convention.grpc.pb.h"

namespace troupe::convention {

struct LinkOptions {
  std::string self;             // this daemon's node name
  PeerGuard* guard = nullptr;   // not owned
  uint64_t outbox_limit_bytes = 64 << 20;
  // Most envelopes and bytes written in one batch.
  size_t batch_envelopes = 4096;
  size_t batch_bytes = 1 << 20;
  int max_message_bytes = 64 << 20;  // gRPC's limit on one batch
};

// Thread-safe.
class Links final {
 public:
  // `system` and `directory` must outlive the links.
  Links(LinkOptions options, runtime::ActorSystem* system, const Directory* directory);
  ~Links();  // Stop()

  // runtime::Cluster::Forward: queues `message` for `node`'s link (opened on
  // first use) and starts a write when none is under way; never waits. A
  // node that is not a current member: Undeliverable at once. False when
  // the link's outbox is at or over its bound.
  bool Forward(std::string_view node, uint64_t remote_id, runtime::Message message);
  // runtime::Cluster::ResumeWhenRoom for `node`'s link.
  bool ResumeWhenRoom(std::string_view node, std::function<void()> resume);

  // Serves a peer's Link stream after `authenticate` accepted the call:
  // delivers each envelope, reports the undeliverable ones back. The next
  // batch is read only after the current one is delivered.
  grpc::ServerBidiReactor<v1::EnvelopeBatch, v1::LinkReport>* Serve(
      grpc::CallbackServerContext* context,
      const std::function<absl::StatusOr<std::string>()>& authenticate);

  // `node` left the convention: its link closes and every message still
  // queued for it becomes undeliverable with `reason`.
  void PeerLost(std::string_view node, std::string_view reason);
  // Closes every link (later Forwards are undeliverable) and waits up to
  // `deadline` until their streams have ended. Idempotent.
  void Stop(absl::Time deadline = absl::InfiniteFuture());

  // Messages queued or in flight on every outbound link (for load reports).
  uint64_t queued() const;
  // After the gRPC server has shut down: waits until no served link runs a
  // reaction any more. False when `deadline` passed first.
  bool WaitForServedLinksToEnd(absl::Time deadline) { return open_links_.WaitForZero(deadline); }

 private:
  class Peer;
  class LinkCall;
  // The peer's link, made on first use when `make` and `node` is a member.
  std::shared_ptr<Peer> PeerFor(std::string_view node, bool make);

  LinkOptions options_;
  runtime::ActorSystem* const system_;
  const Directory* const directory_;
  mutable troupe::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  CallCounter open_links_;  // served Link streams still running reactions
  CallCounter open_calls_;  // outbound Link streams not done yet
};

}  // namespace troupe::convention
