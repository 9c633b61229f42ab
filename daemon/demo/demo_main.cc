// demo_main.cc - troupe_demo: the main job until troupd arrives. Loads the
// example actor library through the C ABI, runs it on the threaded runtime
// and shows an ask, a counter and a ping-pong game.
//
//   troupe_demo [--library PATH] [--rounds N]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon/common/logging.h"
#include "daemon/loader/plugin_library.h"
#include "daemon/runtime/actor_system.h"

namespace {

using troupe::runtime::ActorRef;
using troupe::runtime::ActorSystem;
using troupe::runtime::Message;

int Fail(absl::string_view what) {
  std::fprintf(stderr, "troupe_demo: %.*s\n", static_cast<int>(what.size()), what.data());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string library = TROUPE_DEMO_LIBRARY;
  long rounds = 100000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--library" && i + 1 < argc) {
      library = argv[++i];
    } else if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atol(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: troupe_demo [--library PATH] [--rounds N]\n");
      return 2;
    }
  }
  if (rounds < 1) return Fail("--rounds must be a positive number");

  auto lib = troupe::loader::PluginLibrary::Open(library);
  if (!lib.ok()) return Fail(lib.status().message());
  std::printf("loaded %s: library '%s', ABI %u.%u, SDK %s, %zu actor classes\n", library.c_str(),
              std::string((*lib)->library_name()).c_str(), (*lib)->plugin().abi_major,
              (*lib)->abi_minor(), std::string((*lib)->sdk_version()).c_str(),
              (*lib)->class_count());

  ActorSystem system;
  if (absl::Status s = system.RegisterLibrary(&(*lib)->plugin()); !s.ok()) return Fail(s.message());
  std::printf("runtime: %d worker threads\n", system.options().worker_threads);
  const absl::Duration timeout = absl::Seconds(30);

  // 1. Ask an echo actor.
  auto echo = system.CreateActor("examples.Echo");
  if (!echo.ok()) return Fail(echo.status().message());
  auto reply = system.Ask(*echo, Message::Make("greeting", "hello, troupe"), timeout);
  if (!reply.ok()) return Fail(reply.status().message());
  std::printf("ask %s (examples.Echo) 'hello, troupe' -> %s '%s'\n",
              system.FormatAddress(echo->get()).c_str(), std::string(reply->type()).c_str(),
              std::string(reply->payload()).c_str());

  // 2. A counter keeps state between messages.
  auto counter = system.CreateActor("examples.Counter");
  if (!counter.ok()) return Fail(counter.status().message());
  for (int i = 1; i <= 3; ++i)
    (void)system.Tell(*counter, Message::Make("increment", std::to_string(i)));
  auto count = system.Ask(*counter, Message::Make("get", ""), timeout);
  if (!count.ok()) return Fail(count.status().message());
  std::printf("counter after increments 1+2+3 -> %s %s\n", std::string(count->type()).c_str(),
              std::string(count->payload()).c_str());

  // 3. Ping-pong between two actors.
  auto ponger = system.CreateActor("examples.Ponger");
  auto pinger = system.CreateActor("examples.Pinger");
  if (!ponger.ok() || !pinger.ok()) return Fail("could not create the ping-pong actors");
  std::string start = system.FormatAddress(ponger->get()) + " " + std::to_string(rounds);
  absl::Time t0 = absl::Now();
  auto done = system.Ask(*pinger, Message::Make("start", start), timeout);
  if (!done.ok()) return Fail(done.status().message());
  double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  std::printf("ping-pong: %s %s round trips in %.3f s (%.2f M round trips/s)\n",
              std::string(done->type()).c_str(), std::string(done->payload()).c_str(), secs,
              rounds / secs / 1e6);

  // 4. A handler that fails twice returns a PoisonMessage to the asker.
  auto failing = system.CreateActor("examples.Failing");
  if (!failing.ok()) return Fail(failing.status().message());
  troupe::SetMinLogLevel(troupe::LogLevel::kError);  // the two failures are expected
  auto poison = system.Ask(*failing, Message::Make("fail", ""), timeout);
  if (!poison.ok()) return Fail(poison.status().message());
  std::printf("ask examples.Failing 'fail' -> %s\n", std::string(poison->type()).c_str());

  troupe::runtime::SystemStatus status = system.GetStatus();
  std::printf("status: %llu live actors, %llu poison messages, %llu dead letters\n",
              static_cast<unsigned long long>(status.live_actors),
              static_cast<unsigned long long>(status.poison_messages),
              static_cast<unsigned long long>(status.dead_letters));
  system.Shutdown();
  std::printf("shut down cleanly\n");
  return 0;
}
