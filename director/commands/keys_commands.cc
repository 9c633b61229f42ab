// keys_commands.cc - `director keygen`, `trust`, `untrust`: Ed25519 signing
// keys and the trusted-key store in TROUPE_DIR/keys/trusted; `keygen
// --convention`: the convention key peers authenticate with (daemon/peerauth).
#include <sys/stat.h>

#include <cctype>
#include <memory>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/bundle/keys.h"
#include "daemon/common/strings.h"
#include "daemon/peerauth/convention_key.h"
#include "director/commands/commands.h"

namespace troupe::director {
namespace {

// A key name becomes a file name: letters, digits, '_', '.', '-', not
// starting with '.' or '-', at most 64 characters.
absl::Status ValidateKeyName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      troupe::StrCat("invalid key name '", name,
                     "': use 1-64 letters, digits, '_', '.', '-', not starting with '.' or '-'"));
}

struct KeygenOptions {
  std::string name;
  std::string out;
  bool convention = false;
  bool force = false;
};

// `keygen --convention`: DIR/convention.key, the secret every member shares.
int ConventionKeygen(Context& ctx, const KeygenOptions& options) {
  const std::string dir = options.out.empty() ? ctx.config().keys_dir() : options.out;
  if (absl::Status s = MakeDirectories(dir, 0700); !s.ok()) return ctx.Fail(s);
  const std::string path = troupe::StrCat(dir, "/", peerauth::kConventionKeyFileName);
  struct stat st;
  const bool replaced = ::lstat(path.c_str(), &st) == 0;
  absl::StatusOr<peerauth::ConventionKey> key =
      peerauth::ConventionKey::Create(path, options.force);
  if (absl::IsAlreadyExists(key.status())) {
    return ctx.Fail(absl::AlreadyExistsError(troupe::StrCat(
        key.status().message(),
        "; every member must hold the same key: copy this one, or pass --force to replace it")));
  }
  if (!key.ok()) return ctx.Fail(key.status());
  if (ctx.json()) {
    return ctx.PrintJson(Json{
        {"convention_key", path}, {"fingerprint", key->Fingerprint()}, {"replaced", replaced}});
  }
  ctx.out() << (replaced ? "replaced " : "wrote ") << path
            << " (convention key, mode 0600, fingerprint " << key->Fingerprint() << ")\n"
            << "copy it (mode 0600) to keys/" << peerauth::kConventionKeyFileName
            << " in the TROUPE_DIR of every member of the convention"
            << (replaced ? "; members with the old key are refused until they have it" : "")
            << "\n";
  return kExitOk;
}

int Keygen(Context& ctx, const KeygenOptions& options) {
  if (options.convention) return ConventionKeygen(ctx, options);
  if (absl::Status s = ValidateKeyName(options.name); !s.ok()) return ctx.Fail(s);
  if (absl::Status s = bundle::InitSodium(); !s.ok()) return ctx.Fail(s);
  const std::string dir = options.out.empty() ? ctx.config().keys_dir() : options.out;
  if (absl::Status s = MakeDirectories(dir, 0700); !s.ok()) return ctx.Fail(s);
  absl::StatusOr<bundle::KeyPair> pair = bundle::GenerateKeyPair();
  if (!pair.ok()) return ctx.Fail(pair.status());
  if (absl::Status s = bundle::WriteKeyPair(*pair, dir, options.name); !s.ok()) {
    return ctx.Fail(s);
  }
  const std::string key_id = bundle::KeyId(pair->public_key);
  const std::string secret_path = troupe::StrCat(dir, "/", options.name, ".key");
  const std::string public_path = troupe::StrCat(dir, "/", options.name, ".pub");
  if (ctx.json()) {
    return ctx.PrintJson(
        Json{{"key_id", key_id}, {"secret_key", secret_path}, {"public_key", public_path}});
  }
  ctx.out() << "wrote " << secret_path << " (secret, mode 0600) and " << public_path << "\n"
            << "key id " << key_id << "\n"
            << "to accept bundles signed with it on this host: director --dir "
            << ctx.config().dir() << " trust " << public_path << "\n";
  return kExitOk;
}

int Trust(Context& ctx, const std::string& public_key_path) {
  if (absl::Status s = bundle::InitSodium(); !s.ok()) return ctx.Fail(s);
  const bundle::TrustStore store(ctx.config().trusted_keys_dir());
  absl::StatusOr<std::string> key_id = store.Trust(public_key_path);
  if (!key_id.ok()) return ctx.Fail(key_id.status());
  if (ctx.json()) {
    return ctx.PrintJson(Json{{"key_id", *key_id}, {"store", store.dir()}});
  }
  ctx.out() << "trusted key " << *key_id << " (in " << store.dir() << ")\n";
  return kExitOk;
}

int Untrust(Context& ctx, const std::string& key_id) {
  bool hex = key_id.size() == 16;
  for (char c : key_id) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
  if (!hex) {
    return ctx.Fail(absl::InvalidArgumentError(
        troupe::StrCat("'", key_id, "' is not a key id (16 hex digits)")));
  }
  const bundle::TrustStore store(ctx.config().trusted_keys_dir());
  if (absl::Status s = store.Untrust(key_id); !s.ok()) return ctx.Fail(s);
  if (ctx.json()) {
    return ctx.PrintJson(Json{{"key_id", key_id}, {"store", store.dir()}});
  }
  ctx.out() << "untrusted key " << key_id << " (removed from " << store.dir() << ")\n";
  return kExitOk;
}

}  // namespace

void AddKeysCommands(CLI::App& app, Runner* run) {
  auto keygen = std::make_shared<KeygenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "keygen",
      "Create an Ed25519 signing key pair: NAME.key (secret, mode 0600) and NAME.pub. "
      "Never overwrites (exit 6). Prints the key id. With --convention instead (no NAME): "
      "the convention key convention.key (mode 0600) that every member of a convention "
      "shares; prints its fingerprint.");
  CLI::Option* name =
      cmd->add_option("NAME", keygen->name, "Key name; `signing` is gensrc's default key");
  cmd->add_option("--out", keygen->out, "Directory for the files (default: TROUPE_DIR/keys)");
  CLI::Option* convention = cmd->add_flag(
      "--convention", keygen->convention,
      "Create the convention key (32 random bytes, hex) that peers authenticate with; copy "
      "it to every member");
  CLI::Option* force = cmd->add_flag("--force", keygen->force,
                                     "With --convention: replace an existing convention key");
  name->excludes(convention);
  force->needs(convention);
  cmd->callback([keygen, run] {
    if (!keygen->convention && keygen->name.empty()) {
      throw CLI::RequiredError("NAME (or --convention)");
    }
    *run = [keygen](Context& ctx) { return Keygen(ctx, *keygen); };
  });

  auto trust_path = std::make_shared<std::string>();
  cmd = app.add_subcommand("trust",
                           "Trust a public key (NAME.pub from keygen): bundles it signed verify "
                           "on this host. Copies it into TROUPE_DIR/keys/trusted.");
  cmd->add_option("PUBKEY", *trust_path, "Public key file")->required();
  cmd->callback(
      [trust_path, run] { *run = [trust_path](Context& ctx) { return Trust(ctx, *trust_path); }; });

  auto untrust_id = std::make_shared<std::string>();
  cmd = app.add_subcommand("untrust",
                           "Stop trusting a key, at once: bundles signed with it no longer "
                           "verify. Exit 3 when no such key is trusted.");
  cmd->add_option("KEYID", *untrust_id, "Key id (16 hex digits, as printed by keygen/trust)")
      ->required();
  cmd->callback([untrust_id, run] {
    *run = [untrust_id](Context& ctx) { return Untrust(ctx, *untrust_id); };
  });
}

}  // namespace troupe::director
