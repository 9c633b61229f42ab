// keys_commands.cc - `director keygen`, `trust`, `untrust`, `keys`: Ed25519
// signing keys and the trusted-key store in TROUPE_DIR/keys/trusted, with each
// signer's isolation mark (`trust --isolated`, `trust --inline`); `keygen
// --convention`: the convention key peers authenticate with (daemon/peerauth).
#include <sys/stat.h>

#include <cctype>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

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

struct TrustOptions {
  std::string public_key_path;
  bool isolated = false;
  bool inline_ = false;
};

// What `trust` says about the key's isolation mark after the call.
std::string MarkNote(const bundle::TrustOutcome& outcome, bundle::IsolationMark mark,
                     const std::string& public_key_path) {
  switch (mark) {
    case bundle::IsolationMark::kIsolated:
      return "; it is --isolated: bundles it signed always run in an isolated host process, "
             "whatever their manifest says";
    case bundle::IsolationMark::kInline:
      return outcome.was_isolated
                 ? "; no longer --isolated: its bundles run where their manifest or "
                   "isolation_default says"
                 : "; it was not --isolated (nothing to lift)";
    case bundle::IsolationMark::kKeep:
      break;
  }
  if (!outcome.isolated) return "";
  return troupe::StrCat(
      outcome.was_trusted ? "; it stays --isolated"
                          : "; it is --isolated (its mark was already in place)",
      ": bundles it signed always run in an isolated host process (lift that with `director "
      "trust --inline ",
      public_key_path, "`)");
}

int Trust(Context& ctx, const TrustOptions& options) {
  if (absl::Status s = bundle::InitSodium(); !s.ok()) return ctx.Fail(s);
  const bundle::IsolationMark mark = options.isolated  ? bundle::IsolationMark::kIsolated
                                     : options.inline_ ? bundle::IsolationMark::kInline
                                                       : bundle::IsolationMark::kKeep;
  const bundle::TrustStore store(ctx.config().trusted_keys_dir());
  absl::StatusOr<bundle::TrustOutcome> outcome = store.Trust(options.public_key_path, mark);
  if (!outcome.ok()) return ctx.Fail(outcome.status());
  if (ctx.json()) {
    return ctx.PrintJson(Json{{"key_id", outcome->key_id},
                              {"store", store.dir()},
                              {"isolated", outcome->isolated},
                              {"was_trusted", outcome->was_trusted},
                              {"was_isolated", outcome->was_isolated}});
  }
  ctx.out() << "trusted key " << outcome->key_id << " (in " << store.dir() << ")"
            << MarkNote(*outcome, mark, options.public_key_path) << "\n";
  return kExitOk;
}

// `director keys`: the trusted keys and how their signers' bundles run.
int ListKeys(Context& ctx) {
  if (absl::Status s = bundle::InitSodium(); !s.ok()) return ctx.Fail(s);
  const bundle::TrustStore store(ctx.config().trusted_keys_dir());
  absl::StatusOr<std::vector<bundle::TrustedKey>> keys = store.List();
  if (!keys.ok()) return ctx.Fail(keys.status());
  if (ctx.json()) {
    Json listed = Json::array();
    for (const bundle::TrustedKey& key : *keys) {
      listed.push_back(Json{{"key_id", key.key_id}, {"path", key.path}, {"isolated", key.isolated}});
    }
    return ctx.PrintJson(Json{{"store", store.dir()}, {"keys", std::move(listed)}});
  }
  if (keys->empty()) {
    ctx.out() << "no trusted keys (in " << store.dir() << ")\n";
    return kExitOk;
  }
  for (const bundle::TrustedKey& key : *keys) {
    // "isolated": always in an isolated host; "by manifest": where the
    // manifest (else isolation_default) says.
    ctx.out() << key.key_id << "  " << (key.isolated ? "isolated   " : "by manifest") << "  "
              << key.path << "\n";
  }
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

  auto trust = std::make_shared<TrustOptions>();
  cmd = app.add_subcommand(
      "trust",
      "Trust a public key (NAME.pub from keygen): bundles it signed verify on this host. Copies "
      "it into TROUPE_DIR/keys/trusted. With --isolated, bundles it signed always run in an "
      "isolated host process, whatever their manifest says (the mark is the empty file "
      "KEYID.isolated beside the key); trusting a marked key again keeps the mark, --inline "
      "lifts it.");
  cmd->add_option("PUBKEY", trust->public_key_path, "Public key file")->required();
  CLI::Option* isolated = cmd->add_flag(
      "--isolated", trust->isolated,
      "Mark the signer: its bundles always run isolated (in their own host process)");
  CLI::Option* inline_flag = cmd->add_flag(
      "--inline", trust->inline_,
      "Lift the mark: its bundles run where their manifest or isolation_default says");
  isolated->excludes(inline_flag);
  cmd->callback([trust, run] { *run = [trust](Context& ctx) { return Trust(ctx, *trust); }; });

  auto untrust_id = std::make_shared<std::string>();
  cmd = app.add_subcommand("untrust",
                           "Stop trusting a key, at once: bundles signed with it no longer "
                           "verify. Removes its --isolated mark too. Exit 3 when no such key "
                           "is trusted.");
  cmd->add_option("KEYID", *untrust_id, "Key id (16 hex digits, as printed by keygen/trust)")
      ->required();
  cmd->callback([untrust_id, run] {
    *run = [untrust_id](Context& ctx) { return Untrust(ctx, *untrust_id); };
  });

  cmd = app.add_subcommand(
      "keys",
      "List the trusted keys (TROUPE_DIR/keys/trusted): key id, whether the signer is "
      "--isolated (its bundles always run isolated) or its bundles run where their manifest "
      "says, and the key file. A malformed key file or mark is an error naming it.");
  cmd->callback([run] { *run = ListKeys; });
}

}  // namespace troupe::director
