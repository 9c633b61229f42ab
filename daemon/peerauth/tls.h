// tls.h - mutual TLS between convention peers, when the three
// convention_tls_* settings name PEM files: the credentials of the daemon's
// TCP listener and of its channels to peers, the server-side check that a
// caller presented a certificate signed by the convention's CA, and the
// channel factory. Without TLS settings everything is insecure credentials
// (the convention key's per-call proof still applies; see peer_verifier.h).
//
// The TCP listener is shared with token-authenticated clients, which have no
// certificates, so the server asks for a client certificate and verifies one
// that is presented, but lets the handshake succeed without one; the
// Convention service then refuses such calls (RequireVerifiedPeerCertificate,
// or PeerVerifierOptions::require_client_certificate).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/config/config.h"

namespace grpc {
class Channel;
class ChannelCredentials;
class ServerContextBase;
class ServerCredentials;
}  // namespace grpc

namespace troupe::peerauth {

// True when the tls_* paths of `settings` are set (Config::Daemon() already
// refused one or two of the three).
bool TlsConfigured(const config::DaemonSettings& settings);

// The PEM files of the TLS settings, read and checked.
struct TlsFiles {
  std::string ca_pem;    // tls_ca_path: the convention's certificate authority
  std::string cert_pem;  // tls_cert_path: this daemon's certificate (chain)
  std::string key_pem;   // tls_key_path: its private key
};
// FailedPrecondition naming the file and setting when a file cannot be read,
// holds no PEM certificate (private key), or the key file is accessible by
// others (chmod 600 or 640). InvalidArgument when TLS is not configured.
absl::StatusOr<TlsFiles> LoadTlsFiles(const config::DaemonSettings& settings);

// For the daemon's TCP listener: grpc::SslServerCredentials with `ca_pem` as
// root certificates and GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY when
// TLS is configured; otherwise grpc::InsecureServerCredentials().
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const config::DaemonSettings& settings);
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files);

// For channels to peers: grpc::SslCredentials (the CA as root certificates,
// this daemon's certificate and key as the client certificate) when TLS is
// configured; otherwise grpc::InsecureChannelCredentials(). The peer's
// certificate must name the host it is dialled by (a DNS or IP subject
// alternative name matching the host of its host:port node name).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const config::DaemonSettings& settings);
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files);

// OK when the call came over TLS and the caller presented a client
// certificate (with MakeServerCredentials, one that verified against the
// CA); Unauthenticated otherwise ("... no client certificate ..."). Does not
// log; PeerVerifier::Authenticate logs its refusals.
absl::Status RequireVerifiedPeerCertificate(const grpc::ServerContextBase& context);

// A channel to `address` (host:port) with `credentials` and the given
// message size limits (bytes; <= 0: gRPC's default). Connects lazily.
std::shared_ptr<grpc::Channel> DialPeer(
    const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int max_receive_message_bytes, int max_send_message_bytes);

}  // namespace troupe::peerauth
