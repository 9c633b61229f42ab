// tls.cc - TLS credentials for the listener and for peer channels.
#include "daemon/peerauth/tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "daemon/common/status_macros.h"
#include "daemon/common/strings.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/channel_arguments.h"

namespace troupe::peerauth {
namespace {

// PEM files are small; anything bigger is not what the setting should name.
constexpr size_t kMaxPemBytes = 1 << 20;

enum class PemKind { kCertificate, kPrivateKey };

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view setting,
                                    PemKind kind) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        troupe::StrCat("cannot read ", path, " (setting ", setting, "): ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        troupe::StrCat(path, " (setting ", setting, ") is not a regular file"));
  }
  if (kind == PemKind::kPrivateKey && (st.st_mode & 007) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return absl::FailedPreconditionError(troupe::StrCat("private key ", path, " (setting ", setting,
                                                        ") is accessible by others (mode ", mode,
                                                        "): chmod 600 ", path));
  }
  std::string text;
  char buffer[8192];
  while (text.size() <= kMaxPemBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::FailedPreconditionError(
          troupe::StrCat("cannot read ", path, " (setting ", setting, "): ", std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.size() > kMaxPemBytes) {
    return absl::FailedPreconditionError(troupe::StrCat(
        path, " (setting ", setting, ") is larger than ", kMaxPemBytes, " bytes: not a PEM file"));
  }
  const bool ok = kind == PemKind::kCertificate
                      ? text.find("-----BEGIN CERTIFICATE-----") != std::string::npos &&
                            text.find("-----END CERTIFICATE-----") != std::string::npos
                      : text.find("-----BEGIN ") != std::string::npos &&
                            text.find("PRIVATE KEY-----") != std::string::npos &&
                            text.find("-----END ") != std::string::npos;
  if (!ok) {
    return absl::FailedPreconditionError(troupe::StrCat(
        path, " (setting ", setting, ") holds no PEM ",
        kind == PemKind::kCertificate ? "certificate (-----BEGIN CERTIFICATE-----)"
                                      : "private key (-----BEGIN ... PRIVATE KEY-----)"));
  }
  return text;
}

}  // namespace

bool TlsConfigured(const config::DaemonSettings& settings) {
  return !settings.tls_cert_path.empty() && !settings.tls_key_path.empty() &&
         !settings.tls_ca_path.empty();
}

absl::StatusOr<TlsFiles> LoadTlsFiles(const config::DaemonSettings& settings) {
  if (!TlsConfigured(settings)) {
    return absl::InvalidArgumentError(
        "TLS is not configured (set convention_tls_cert, convention_tls_key and "
        "convention_tls_ca)");
  }
  TlsFiles files;
  TROUPE_ASSIGN_OR_RETURN(
      files.ca_pem, ReadPem(settings.tls_ca_path, "convention_tls_ca", PemKind::kCertificate));
  TROUPE_ASSIGN_OR_RETURN(files.cert_pem, ReadPem(settings.tls_cert_path, "convention_tls_cert",
                                                  PemKind::kCertificate));
  TROUPE_ASSIGN_OR_RETURN(
      files.key_pem, ReadPem(settings.tls_key_path, "convention_tls_key", PemKind::kPrivateKey));
  return files;
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files) {
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = files.ca_pem;
  options.pem_key_cert_pairs.push_back({files.key_pem, files.cert_pem});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const config::DaemonSettings& settings) {
  if (!TlsConfigured(settings)) return grpc::InsecureServerCredentials();
  TROUPE_ASSIGN_OR_RETURN(TlsFiles files, LoadTlsFiles(settings));
  return MakeServerCredentials(files);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = files.ca_pem;
  options.pem_private_key = files.key_pem;
  options.pem_cert_chain = files.cert_pem;
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const config::DaemonSettings& settings) {
  if (!TlsConfigured(settings)) return grpc::InsecureChannelCredentials();
  TROUPE_ASSIGN_OR_RETURN(TlsFiles files, LoadTlsFiles(settings));
  return MakeChannelCredentials(files);
}

absl::Status RequireVerifiedPeerCertificate(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  bool tls = false;
  bool certificate = false;
  if (auth != nullptr) {
    for (const grpc::string_ref& type :
         auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
      tls = tls || type == GRPC_SSL_TRANSPORT_SECURITY_TYPE;
    }
    for (const grpc::string_ref& pem : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
      certificate = certificate || !pem.empty();
    }
  }
  if (!tls) {
    return absl::UnauthenticatedError(
        "the call did not come over TLS, which this daemon requires of convention peers");
  }
  if (!certificate) {
    return absl::UnauthenticatedError(
        "no client certificate: convention peers must present one signed by the convention's "
        "CA (convention_tls_cert, convention_tls_key)");
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> DialPeer(
    const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int max_receive_message_bytes, int max_send_message_bytes) {
  grpc::ChannelArguments args;
  if (max_receive_message_bytes > 0) args.SetMaxReceiveMessageSize(max_receive_message_bytes);
  if (max_send_message_bytes > 0) args.SetMaxSendMessageSize(max_send_message_bytes);
  return grpc::CreateCustomChannel(address, credentials, args);
}

}  // namespace troupe::peerauth
