// message_commands.cc - `director tell`, `director ask` and `director create`:
// one message to an actor of a running troupd (by address or global name), or
// one new actor, through troupe::Client (sdk/client, the same client stack as
// any other program); `ask` prints the first message sent back, `create` the
// new actor's address.
#include <cstdint>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/escaping.h"
#include "daemon/common/strings.h"
#include "director/commands/commands.h"
#include "director/commands/daemon_client.h"
#include "troupe/abi.h"
#include "troupe/client.h"
#include "troupe/wire.h"

namespace troupe::director {
namespace {

// The SDK's type for plain text (actor.h kTextType).
constexpr char kDefaultType[] = "troupe.Text";

struct MessageOptions {
  std::string socket;
  std::string to;
  std::string type = kDefaultType;
  std::string data;
  double timeout_seconds = 10;
  bool raw = false;
};

// --data: the text itself, @FILE for a file's bytes, @- for stdin.
absl::StatusOr<std::string> Payload(const std::string& data) {
  if (data.empty() || data[0] != '@') return data;
  if (data == "@-") {
    return ReadStream(std::cin, "the payload on stdin", kMaxInputFileBytes);
  }
  return ReadFile(data.substr(1), kMaxInputFileBytes);
}

// True for UTF-8 text without control characters other than tab and newlines.
bool IsPrintableText(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t code = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= bytes.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char cc = static_cast<unsigned char>(bytes[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates, beyond U+10FFFF.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && code < 0x10000) || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// A troupe::Client for --socket `socket_flag`, after the same probe as every
// daemon command (ProbeOrFail: the "not running" line, exit 8); or, with
// `client` null, the exit code after printing why there is none.
struct ClientConnection {
  std::unique_ptr<troupe::Client> client;
  std::string socket;
  int code = kExitOk;
};
ClientConnection ConnectClientOrFail(Context& ctx, const std::string& socket_flag,
                                     absl::Duration call_timeout = kCallDeadline) {
  Probe probe = ProbeOrFail(ctx, socket_flag);
  if (!probe.ok()) return {nullptr, "", probe.code};
  troupe::Client::Options options;
  options.connect_timeout = kCallDeadline;
  options.call_timeout = call_timeout;
  absl::StatusOr<std::unique_ptr<troupe::Client>> client =
      troupe::Client::Connect(probe.socket, options);
  if (!client.ok()) return {nullptr, "", ctx.Fail(client.status())};
  return {*std::move(client), std::move(probe.socket), kExitOk};
}

// The first error the daemon reports for this client's tells (Subscribe's
// on_error, on the client's reader thread).
class TellErrors {
 public:
  void Watch(troupe::Client& client) {
    client.Subscribe(nullptr, [this](absl::Status error) {
      std::lock_guard<std::mutex> lock(mu_);
      if (first_.ok()) first_ = std::move(error);
    });
  }
  absl::Status first() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

 private:
  std::mutex mu_;
  absl::Status first_;
};

int TellCommand(Context& ctx, const MessageOptions& options) {
  absl::StatusOr<std::string> payload = Payload(options.data);
  if (!payload.ok()) return ctx.Fail(payload.status());
  TellErrors errors;  // outlives the client, whose handler writes it
  ClientConnection c = ConnectClientOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  errors.Watch(*c.client);
  // A tell only queues the message: Close waits until the daemon has handled
  // it, so that its verdict (an unknown name, a malformed address) is known
  // before director says "sent".
  absl::Status sent = c.client->Tell(options.to, {options.type, *payload, ""});
  if (sent.ok()) sent = c.client->Close(kCallDeadline);
  if (absl::Status refused = errors.first(); !refused.ok()) sent = refused;
  if (!sent.ok()) {
    return ctx.Fail(DaemonError(sent, troupe::StrCat("tell ", options.to), c.socket));
  }
  if (ctx.json()) {
    return ctx.PrintJson(Json{{"to", options.to},
                              {"type", options.type},
                              {"size", static_cast<uint64_t>(payload->size())}});
  }
  ctx.out() << "sent " << options.type << " (" << payload->size() << " bytes) to " << options.to
            << "\n";
  return kExitOk;
}

int AskCommand(Context& ctx, const MessageOptions& options) {
  absl::StatusOr<std::string> payload = Payload(options.data);
  if (!payload.ok()) return ctx.Fail(payload.status());
  ClientConnection c = ConnectClientOrFail(ctx, options.socket);
  if (!c.client) return c.code;
  const absl::Duration timeout = absl::Seconds(options.timeout_seconds);
  // The timeout travels with the ask: the daemon gives up then too.
  absl::StatusOr<troupe::Client::Message> reply =
      c.client->Ask(options.to, {options.type, *std::move(payload), ""}, timeout);
  if (absl::IsDeadlineExceeded(reply.status())) {
    return ctx.Fail(absl::DeadlineExceededError(
        troupe::StrCat("no reply from ", options.to, " within ", absl::FormatDuration(timeout))));
  }
  if (!reply.ok()) {
    return ctx.Fail(DaemonError(reply.status(), troupe::StrCat("ask ", options.to), c.socket));
  }

  if (reply->type == TROUPE_MSG_POISON) {
    // The actor failed twice on the message: type, payload, error text.
    std::string_view in = reply->payload, type, sent, error;
    const bool decoded = wire::ReadField(&in, &type) && wire::ReadField(&in, &sent) &&
                         wire::ReadField(&in, &error) && in.empty();
    return ctx.Fail(
        absl::AbortedError(troupe::StrCat(
            reply->from.empty() ? options.to : reply->from, " failed on the ", options.type,
            " message: ", decoded ? error : std::string_view("(undecodable PoisonMessage)"))),
        kExitActorFailed);
  }

  const bool text = IsPrintableText(reply->payload);
  if (options.raw) {
    ctx.out() << reply->payload;
    return kExitOk;
  }
  if (ctx.json()) {
    Json object = {{"type", reply->type},
                   {"from", reply->from},
                   {"size", static_cast<uint64_t>(reply->payload.size())}};
    if (text) {
      object["payload"] = reply->payload;
    } else {
      object["payload_base64"] = absl::Base64Escape(reply->payload);
    }
    return ctx.PrintJson(object);
  }
  ctx.out() << "reply from " << reply->from << " (type " << reply->type << ", "
            << reply->payload.size() << " bytes"
            << (text ? "" : "; not UTF-8 text, shown as base64") << ")\n";
  const std::string shown = text ? reply->payload : absl::Base64Escape(reply->payload);
  ctx.out() << shown;
  if (!shown.empty() && shown.back() != '\n') ctx.out() << "\n";
  return kExitOk;
}

struct CreateOptions {
  std::string socket;
  std::string group;
  std::string class_name;
  std::string requirements;  // JSON array as in a manifest; empty: none
  std::string name;          // global name; empty: unnamed
};

// A create may be placed on another member of a convention, which may fetch
// the bundle first: each member tried may take up to 30 s (the convention's
// place timeout).
constexpr absl::Duration kCreateDeadline = absl::Seconds(90);

int CreateCommand(Context& ctx, const CreateOptions& options) {
  // Text that is not JSON at all is refused here; the client library turns
  // the array into the manifest's Requirement messages (INVALID_ARGUMENT for
  // JSON of another shape, also before any call) and the daemon checks them.
  if (!options.requirements.empty() && !ParseJson(options.requirements).ok()) {
    return ctx.Fail(absl::InvalidArgumentError(troupe::StrCat(
        "--requirements is not JSON: ", options.requirements,
        " (expected an array as in a manifest, e.g. '[{\"capability\": \"gpu\", \"equals\": "
        "true}]')")));
  }
  ClientConnection c = ConnectClientOrFail(ctx, options.socket, kCreateDeadline);
  if (!c.client) return c.code;
  absl::StatusOr<std::string> address =
      c.client->CreateActor(options.group, options.class_name, options.requirements, options.name);
  if (!address.ok()) {
    return ctx.Fail(DaemonError(address.status(),
                                troupe::StrCat("create ", options.group, " ", options.class_name),
                                c.socket, kCreateDeadline));
  }
  if (ctx.json()) {
    Json object = {
        {"address", *address}, {"group", options.group}, {"class_name", options.class_name}};
    if (!options.name.empty()) object["global_name"] = options.name;
    return ctx.PrintJson(object);
  }
  ctx.out() << "created " << options.class_name << " at " << *address << "\n";
  return kExitOk;
}

void AddMessageOptions(CLI::App* cmd, MessageOptions* options) {
  cmd->add_option("TO", options->to, "Actor address (troupe://...) or global name")->required();
  cmd->add_option("--type", options->type, "Message type name")->capture_default_str();
  cmd->add_option("--data", options->data,
                  "Payload: the text itself, @FILE for a file's bytes, @- for stdin (default: "
                  "empty)");
  cmd->add_option("--socket", options->socket,
                  "troupd's unix socket (default: the `socket` setting)");
}

}  // namespace

void AddMessageCommands(CLI::App& app, Runner* run) {
  auto tell = std::make_shared<MessageOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tell", "Send one message to an actor in troupd (by address or global name)");
  AddMessageOptions(cmd, tell.get());
  cmd->callback([tell, run] { *run = [tell](Context& ctx) { return TellCommand(ctx, *tell); }; });

  auto ask = std::make_shared<MessageOptions>();
  cmd = app.add_subcommand(
      "ask", "Send one message to an actor in troupd and print the first message sent back");
  AddMessageOptions(cmd, ask.get());
  cmd->add_option("--timeout", ask->timeout_seconds, "Seconds to wait for the reply")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--raw", ask->raw, "Print only the reply's payload bytes, as they are");
  cmd->callback([ask, run] { *run = [ask](Context& ctx) { return AskCommand(ctx, *ask); }; });

  auto create = std::make_shared<CreateOptions>();
  cmd = app.add_subcommand(
      "create",
      "Create an actor of CLASS from GROUP's active version and print its address; in a "
      "convention it goes to another member when this daemon does not fit (or lacks GROUP)");
  cmd->add_option("GROUP", create->group, "Bundle group")->required();
  cmd->add_option("CLASS", create->class_name, "Actor class name, e.g. examples.Echo")->required();
  cmd->add_option("--requirements", create->requirements,
                  "JSON array of requirements as in a manifest, e.g. "
                  "'[{\"capability\": \"gpu\", \"equals\": true}]' (default: none)");
  cmd->add_option("--name", create->name,
                  "Global name for the new actor (when a live actor has it already, that "
                  "actor's address is printed)");
  cmd->add_option("--socket", create->socket,
                  "troupd's unix socket (default: the `socket` setting)");
  cmd->callback(
      [create, run] { *run = [create](Context& ctx) { return CreateCommand(ctx, *create); }; });
}

}  // namespace troupe::director
