// tls.cc - TLS credentials for the listener and for peer channels.
#include "daemon/peerauth/tls.h"

#include <string>
#include <utility>

#include "daemon/common/small_file.h"
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
  // The private key may be readable by a group (Debian's ssl-cert group), not
  // by others; a FIFO or device is refused at once (ReadSmallFile).
  SmallFileOptions options;
  if (kind == PemKind::kPrivateKey) {
    options.secret = true;
    options.secret_forbidden_bits = 007;
  }
  absl::StatusOr<std::string> read = ReadSmallFile(path, kMaxPemBytes, options);
  if (!read.ok()) {
    // "<path> (setting <name>) <what>": the setting inserted after the path
    // ReadSmallFile's messages start with. FailedPrecondition for every
    // reason (also a missing file): the setting names a file that is not fit.
    const std::string message(read.status().message());
    const std::string_view kind_name = kind == PemKind::kPrivateKey ? "private key " : "";
    std::string text = message.starts_with(path)
                           ? troupe::StrCat(kind_name, path, " (setting ", setting, ")",
                                            std::string_view(message).substr(path.size()))
                           : troupe::StrCat(kind_name, message, " (setting ", setting, ")");
    return absl::FailedPreconditionError(std::move(text));
  }
  std::string text = *std::move(read);
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
