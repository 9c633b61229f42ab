// ask.cc - asks one actor and prints its reply.
//
//   troupe_example_ask SOCKET_OR_HOSTPORT TARGET [TEXT]
//
// Sends {type "text", payload TEXT (default "hello")} to TARGET (an address
// or a global name), waits up to 10 s, and prints the reply as one line
// "<type>: <payload>" on stdout. Exit 0 on a reply, 1 on an error (printed on
// stderr as "<CODE>: <message>"), 2 on wrong usage.
#include <iostream>

#include "sdk/examples/example_common.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: " << argv[0] << " SOCKET_OR_HOSTPORT TARGET [TEXT]\n";
    return 2;
  }
  std::unique_ptr<troupe::Client> client = troupe::examples::ConnectOrExplain(argv[1]);
  if (client == nullptr) return 1;
  const std::string text = argc == 4 ? argv[3] : "hello";
  absl::StatusOr<troupe::Client::Message> reply =
      client->Ask(argv[2], {"text", text, ""}, absl::Seconds(10));
  if (!reply.ok()) {
    std::cerr << reply.status() << "\n";
    return 1;
  }
  std::cout << reply->type << ": " << reply->payload << "\n";
  return 0;
}
