// fake_daemon.h - FakeDaemon: a scripted stand-in for troupd's Messaging and
// Admin.Role services, served in-process, for the troupe_client tests.
//
// On the Connect stream it says hello ("troupe://fake/client"), then acts on
// each frame by its type:
//   asks  "echo"  reply at once: type "echo", same payload, from troupe://fake/1
//         "hold"  kept until ReleaseHeld(), which answers every held ask in
//                 reverse order, in one batch (replies out of order)
//         "never" never answered
//         "fail"  KIND_ERROR NOT_FOUND for the ask's id
//   tells to "nobody"  KIND_ERROR NOT_FOUND for the tell's id
//         "push"  sends back an INCOMING message: type "pushed", same payload,
//                 from troupe://fake/7
//         "close" ends the stream with UNAVAILABLE "fake daemon going away"
//         "seq"   counted; payloads are expected to be 0, 1, 2, ... per stream
//         "linger" the stream outlives the client's half-close: it ends only
//                 when the client cancels it (or after 10 s)
// A half-close from the client ends the stream with OK at once, held asks or
// not (unless a "linger" tell came first). CreateActor of group "stall" answers
// only once the client has given up on the call. Every call's `authorization`
// metadata is recorded; with a token set, calls without "Bearer <token>" are
// refused with UNAUTHENTICATED.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "troupe/v1/admin.grpc.pb.h"
#include "troupe/v1/messaging.grpc.pb.h"

namespace troupe::testing {

class FakeDaemon {
 public:
  FakeDaemon() : messaging_(this), admin_(this) {}

  // Serves on `address` ("unix:/path" or "127.0.0.1:0"); `*port` receives the
  // TCP port chosen. Null on failure.
  std::unique_ptr<grpc::Server> Start(const std::string& address, int* port = nullptr) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), port);
    builder.RegisterService(&messaging_);
    builder.RegisterService(&admin_);
    return builder.BuildAndStart();
  }

  void RequireToken(std::string token) {
    std::lock_guard<std::mutex> lock(mu_);
    token_ = std::move(token);
  }

  // Waits (at most 10 s) until `n` "hold" asks are held.
  bool WaitForHeld(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_.size() >= n; });
  }
  // Waits (at most 10 s) until `n` "never" asks arrived.
  bool WaitForNever(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return never_ >= n; });
  }

  // Answers every held ask, newest first, in one batch.
  void ReleaseHeld() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stream_ == nullptr) return;
    v1::ServerBatch out;
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
      v1::ServerFrame* reply = out.add_frames();
      reply->set_kind(v1::ServerFrame::KIND_REPLY);
      reply->set_id(it->id());
      reply->set_type("held");
      reply->set_payload(it->payload());
      reply->set_from("troupe://fake/2");
    }
    held_.clear();
    stream_->Write(out);
  }

  struct Counts {
    uint64_t frames = 0;
    uint64_t batches = 0;
    uint64_t seq = 0;  // "seq" tells seen
    bool seq_in_order = true;
    uint32_t last_timeout_ms = 0;
    uint64_t streams = 0;
  };
  Counts counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }
  // The `authorization` values seen, by method ("Connect", "Lookup", ...).
  std::multimap<std::string, std::string> authorization() const {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }

 private:
  class Messaging final : public v1::Messaging::Service {
   public:
    explicit Messaging(FakeDaemon* daemon) : daemon_(daemon) {}
    grpc::Status Connect(
        grpc::ServerContext* context,
        grpc::ServerReaderWriter<v1::ServerBatch, v1::ClientBatch>* stream) override {
      return daemon_->Connect(context, stream);
    }
    grpc::Status Lookup(grpc::ServerContext* context, const v1::LookupRequest* request,
                        v1::LookupResponse* response) override {
      if (grpc::Status allowed = daemon_->Admit(*context, "Lookup"); !allowed.ok()) return allowed;
      if (request->global_name() != "known") {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            "no actor is named '" + request->global_name() + "'");
      }
      response->set_address("troupe://fake/5");
      return grpc::Status::OK;
    }
    grpc::Status CreateActor(grpc::ServerContext* context, const v1::CreateActorRequest* request,
                             v1::CreateActorResponse* response) override {
      if (grpc::Status allowed = daemon_->Admit(*context, "CreateActor"); !allowed.ok()) {
        return allowed;
      }
      if (request->group() == "stall") {  // answers only once the client gave up (or 10 s)
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!context->IsCancelled() && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      // The requirements as their count and capabilities: "2:gpu:zone".
      std::string requirements = std::to_string(request->requirements_size());
      for (const v1::Requirement& r : request->requirements()) requirements += ":" + r.capability();
      response->set_address("troupe://fake/" + request->group() + "/" + request->class_name() +
                            "/" + request->global_name() + "/" + requirements);
      return grpc::Status::OK;
    }

   private:
    FakeDaemon* daemon_;
  };

  class Admin final : public v1::Admin::Service {
   public:
    explicit Admin(FakeDaemon* daemon) : daemon_(daemon) {}
    grpc::Status Role(grpc::ServerContext* context, const v1::RoleRequest* request,
                      v1::RoleResponse* response) override {
      if (grpc::Status allowed = daemon_->Admit(*context, "Role"); !allowed.ok()) return allowed;
      if (request->role() == "worker") {
        response->add_actors()->set_address("troupe://fake/10" + request->group());
        response->add_actors()->set_address("troupe://fake/11" + request->group());
      }
      return grpc::Status::OK;
    }

   private:
    FakeDaemon* daemon_;
  };

  grpc::Status Admit(const grpc::ServerContext& context, const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto& metadata = context.client_metadata();
    auto it = metadata.find("authorization");
    std::string seen =
        it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
    authorization_.emplace(method, seen);
    if (!token_.empty() && seen != "Bearer " + token_) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong client token");
    }
    return grpc::Status::OK;
  }

  grpc::Status Connect(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<v1::ServerBatch, v1::ClientBatch>* stream) {
    if (grpc::Status allowed = Admit(*context, "Connect"); !allowed.ok()) return allowed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_ = stream;
      ++counts_.streams;
      held_.clear();
      next_seq_ = 0;
      v1::ServerBatch hello;
      v1::ServerFrame* frame = hello.add_frames();
      frame->set_kind(v1::ServerFrame::KIND_HELLO);
      frame->set_from("troupe://fake/client");
      stream->Write(hello);
    }
    grpc::Status result = grpc::Status::OK;
    v1::ClientBatch in;
    while (result.ok() && stream->Read(&in)) {
      std::lock_guard<std::mutex> lock(mu_);
      ++counts_.batches;
      v1::ServerBatch out;
      for (const v1::ClientFrame& frame : in.frames()) {
        ++counts_.frames;
        if (!Handle(frame, &out)) {
          result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake daemon going away");
          break;
        }
      }
      if (out.frames_size() > 0) stream->Write(out);
      cv_.notify_all();
    }
    std::unique_lock<std::mutex> lock(mu_);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (linger_ && !context->IsCancelled() && std::chrono::steady_clock::now() < give_up) {
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    linger_ = false;
    stream_ = nullptr;
    return result;
  }

  // Acts on one frame (mu_ held); false to end the stream.
  bool Handle(const v1::ClientFrame& frame, v1::ServerBatch* out) {
    auto error = [&](grpc::StatusCode code, const std::string& text) {
      v1::ServerFrame* reply = out->add_frames();
      reply->set_kind(v1::ServerFrame::KIND_ERROR);
      reply->set_id(frame.id());
      reply->set_code(static_cast<int32_t>(code));
      reply->set_error(text);
    };
    if (frame.ask()) {
      counts_.last_timeout_ms = frame.timeout_ms();
      if (frame.type() == "echo") {
        v1::ServerFrame* reply = out->add_frames();
        reply->set_kind(v1::ServerFrame::KIND_REPLY);
        reply->set_id(frame.id());
        reply->set_type("echo");
        reply->set_payload(frame.payload());
        reply->set_from("troupe://fake/1");
      } else if (frame.type() == "hold") {
        held_.push_back(frame);
      } else if (frame.type() == "never") {
        ++never_;
      } else {
        error(grpc::StatusCode::NOT_FOUND, "no actor is named '" + frame.to() + "'");
      }
      return true;
    }
    if (frame.to() == "nobody") {
      error(grpc::StatusCode::NOT_FOUND, "no actor is named 'nobody'");
    } else if (frame.type() == "push") {
      v1::ServerFrame* incoming = out->add_frames();
      incoming->set_kind(v1::ServerFrame::KIND_INCOMING);
      incoming->set_type("pushed");
      incoming->set_payload(frame.payload());
      incoming->set_from("troupe://fake/7");
    } else if (frame.type() == "close") {
      return false;
    } else if (frame.type() == "linger") {
      linger_ = true;
    } else if (frame.type() == "seq") {
      if (frame.payload() != std::to_string(next_seq_)) counts_.seq_in_order = false;
      ++next_seq_;
      ++counts_.seq;
    }
    return true;
  }

  Messaging messaging_;
  Admin admin_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string token_;
  grpc::ServerReaderWriter<v1::ServerBatch, v1::ClientBatch>* stream_ = nullptr;
  std::vector<v1::ClientFrame> held_;
  size_t never_ = 0;
  bool linger_ = false;
  uint64_t next_seq_ = 0;
  Counts counts_;
  std::multimap<std::string, std::string> authorization_;
};

}  // namespace troupe::testing
