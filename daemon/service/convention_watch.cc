// convention_watch.cc - see convention_watch.h.
//
// A stream's fields are guarded by the watch's mu_. The rule that keeps a
// reactor alive while another thread uses it: only a stream marked `writing`
// (under mu_) is written to, and a stream is finished only while it is not
// writing, so its OnDone (which deletes it) cannot come before the write
// started under that mark has completed. No lock is held while calling gRPC.
#include "daemon/service/convention_watch.h"

#include <utility>
#include <vector>

#include "daemon/common/logging.h"

namespace troupe::service {

class ConventionWatch::Stream final
    : public grpc::ServerWriteReactor<v1::ConventionStatusResponse> {
 public:
  explicit Stream(ConventionWatch* watch) : watch_(watch) {}

  void OnWriteDone(bool ok) override {
    bool finish = false;
    grpc::Status end;
    {
      troupe::MutexLock lock(&watch_->mu_);
      writing = false;
      if (!ok) finishing = true;  // the client is gone
      if (finishing) {
        finish = !finished;
        finished = true;
        end = end_status;
      } else if (seen < watch_->generation_) {
        writing = true;
        seen = watch_->generation_;
      } else {
        return;  // up to date: the next change's refresh writes
      }
    }
    if (finish) return Finish(end);
    response = watch_->status_();
    StartWrite(&response);
  }

  void OnCancel() override {
    bool finish = false;
    {
      troupe::MutexLock lock(&watch_->mu_);
      finishing = true;
      end_status = grpc::Status::CANCELLED;
      if (!writing && !finished) finish = finished = true;
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    ConventionWatch* watch = watch_;
    {
      troupe::MutexLock lock(&watch->mu_);
      watch->streams_.erase(this);
    }
    delete this;
    watch->open_.Remove();  // last: the watch may go once the count is 0
  }

  // Guarded by watch_->mu_.
  bool writing = false;    // a write is started or about to be
  bool finishing = false;  // cancelled, failed or stopping: finish when idle
  bool finished = false;   // Finish is called (once)
  grpc::Status end_status;
  uint64_t seen = 0;  // the generation of the last status written
  // The write in flight; touched only by the thread that marked `writing`.
  v1::ConventionStatusResponse response;

 private:
  ConventionWatch* const watch_;
};

ConventionWatch::ConventionWatch(BlockingCalls* blocking, StatusFn status)
    : blocking_(blocking), status_(std::move(status)) {}

void ConventionWatch::Changed() {
  {
    troupe::MutexLock lock(&mu_);
    ++generation_;
    if (stopped_ || refresh_queued_ || streams_.empty()) return;
    refresh_queued_ = true;
  }
  absl::Status queued = blocking_->Run([this](const absl::Status& admitted) { Refresh(admitted); });
  if (!queued.ok()) {
    troupe::MutexLock lock(&mu_);
    refresh_queued_ = false;
    if (!stopped_) {
      LogWarning("convention watch: a roster change reaches the watching clients with the next ",
                 "one: ", queued.message());
    }
  }
}

void ConventionWatch::Refresh(const absl::Status& admitted) {
  std::vector<Stream*> behind;
  {
    troupe::MutexLock lock(&mu_);
    refresh_queued_ = false;
    if (!admitted.ok() || stopped_) return;
    for (Stream* stream : streams_) {
      if (stream->writing || stream->finishing || stream->seen >= generation_) continue;
      stream->writing = true;
      stream->seen = generation_;
      behind.push_back(stream);
    }
  }
  if (behind.empty()) return;
  const v1::ConventionStatusResponse status = status_();
  for (Stream* stream : behind) {
    stream->response = status;
    stream->StartWrite(&stream->response);
  }
}

grpc::ServerWriteReactor<v1::ConventionStatusResponse>* ConventionWatch::Watch(
    grpc::CallbackServerContext*) {
  auto* stream = new Stream(this);
  open_.Add();
  bool refused = false;
  {
    troupe::MutexLock lock(&mu_);
    if (stopped_) {
      refused = stream->finished = true;
    } else {
      streams_.insert(stream);
      stream->writing = true;
      stream->seen = generation_;
    }
  }
  if (refused) {
    stream->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the daemon is stopping"));
    return stream;
  }
  stream->response = status_();
  stream->StartWrite(&stream->response);
  return stream;
}

void ConventionWatch::Stop() {
  const grpc::Status stopping(grpc::StatusCode::UNAVAILABLE, "the daemon is stopping");
  std::vector<Stream*> idle;
  {
    troupe::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    for (Stream* stream : streams_) {
      stream->finishing = true;
      stream->end_status = stopping;
      if (!stream->writing && !stream->finished) {
        stream->finished = true;
        idle.push_back(stream);
      }
    }
  }
  // The others finish when their write completes.
  for (Stream* stream : idle) stream->Finish(stopping);
}

}  // namespace troupe::service
