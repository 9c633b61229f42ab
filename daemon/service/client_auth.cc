#include "daemon/service/client_auth.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/common/logging.h"
#include "daemon/common/posix_io.h"
#include "daemon/common/small_file.h"
#include "daemon/common/strings.h"

namespace troupe::service {
namespace {

constexpr size_t kMinTokenChars = 32;
constexpr size_t kMaxTokenFileBytes = 1024;
constexpr std::string_view kBearer = "Bearer ";

absl::StatusOr<std::string> CreateToken(const std::string& path) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialize");
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  std::string token = Hex(raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        troupe::StrCat("cannot create client token ", path, ": ", ErrnoText(errno)));
  }
  std::string line = token + "\n";
  absl::Status written = WriteAll(fd, line, path);
  sodium_memzero(line.data(), line.size());
  if (written.ok() && ::fsync(fd) != 0) written = ErrnoError(errno, path, "cannot sync");
  if (::close(fd) != 0 && written.ok()) written = ErrnoError(errno, path, "cannot write");
  if (!written.ok()) {
    ::unlink(path.c_str());
    return absl::FailedPreconditionError(
        troupe::StrCat("cannot write client token ", path, " (", written.message(), ")"));
  }
  LogInfo("created the client token ", path, " (TCP clients must send it)");
  return token;
}

}  // namespace

absl::StatusOr<ClientAuth> ClientAuth::FromTokenFile(const std::string& path) {
  // A secret troupd creates itself: no symbolic link, owned by this user (or
  // root), no group or other access; a FIFO is refused without blocking.
  SmallFileOptions secret;
  secret.follow_symlinks = false;
  secret.secret = true;
  absl::StatusOr<std::string> read = ReadSmallFile(path, kMaxTokenFileBytes, secret);
  if (absl::IsNotFound(read.status())) {
    absl::StatusOr<std::string> token = CreateToken(path);
    if (!token.ok()) return token.status();
    return ClientAuth(*std::move(token));
  }
  if (!read.ok()) {
    return absl::FailedPreconditionError(
        troupe::StrCat("client token ", read.status().message()));  // names the path
  }
  std::string token = *std::move(read);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.size() < kMinTokenChars) {
    return absl::FailedPreconditionError(troupe::StrCat("client token ", path, " holds ",
                                                        token.size(), " characters; at least ",
                                                        kMinTokenChars, " are needed"));
  }
  return ClientAuth(std::move(token));
}

grpc::Status ClientAuth::Check(const grpc::ServerContextBase& context) const {
  const std::string peer = context.peer();
  if (peer.rfind("unix:", 0) == 0) return grpc::Status::OK;
  if (token_.empty()) {
    LogWarning("refused a call from ", peer, ": TCP clients are not enabled");
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this daemon takes no TCP clients; use its unix socket");
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  std::optional<std::string_view> value;
  if (it != metadata.end()) value = std::string_view(it->second.data(), it->second.size());
  if (!TokenMatches(value)) {
    LogWarning("refused a call from ", peer, ": ",
               it == metadata.end() ? "no client token" : "wrong client token");
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kRefusal);
  }
  return grpc::Status::OK;
}

bool ClientAuth::TokenMatches(std::optional<std::string_view> authorization) const {
  if (token_.empty() || !authorization.has_value()) return false;
  std::string_view value = *authorization;
  if (value.substr(0, kBearer.size()) != kBearer) return false;
  value.remove_prefix(kBearer.size());
  return value.size() == token_.size() &&
         sodium_memcmp(value.data(), token_.data(), token_.size()) == 0;
}

}  // namespace troupe::service
