// isolation_test.cc - the isolation names and EffectiveIsolation, the one
// rule that says where a bundle version runs and why.
#include "daemon/bundle/isolation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::bundle {
namespace {

constexpr char kSigner[] = "0123456789abcdef";

TEST(IsolationTest, NamesParseBackAndNothingElseParses) {
  EXPECT_EQ(IsolationName(Isolation::kInline), "inline");
  EXPECT_EQ(IsolationName(Isolation::kProcess), "process");
  EXPECT_EQ(ParseIsolation("inline"), Isolation::kInline);
  EXPECT_EQ(ParseIsolation("process"), Isolation::kProcess);
  for (const char* other : {"", "Inline", "PROCESS", "process ", "isolated", "none"}) {
    EXPECT_FALSE(ParseIsolation(other).has_value()) << "'" << other << "'";
  }
}

// Every combination of signer mark, manifest value and default, with the
// isolation and the reason each must give.
TEST(IsolationTest, SignerMarkWinsThenTheManifestThenTheDefault) {
  struct Row {
    bool signer_isolated;
    std::string manifest;
    Isolation daemon_default;
    Isolation expected;
    std::string reason;
  };
  const std::string marked = std::string("signer ") + kSigner + " is trusted --isolated";
  const std::vector<Row> table = {
      // The signer's mark: always process.
      {true, "", Isolation::kInline, Isolation::kProcess, marked},
      {true, "", Isolation::kProcess, Isolation::kProcess, marked},
      {true, "process", Isolation::kInline, Isolation::kProcess, marked},
      {true, "inline", Isolation::kInline, Isolation::kProcess,
       marked + " (the manifest's inline does not apply)"},
      {true, "inline", Isolation::kProcess, Isolation::kProcess,
       marked + " (the manifest's inline does not apply)"},
      // No mark: the manifest, whatever the default.
      {false, "inline", Isolation::kInline, Isolation::kInline, "the manifest says inline"},
      {false, "inline", Isolation::kProcess, Isolation::kInline, "the manifest says inline"},
      {false, "process", Isolation::kInline, Isolation::kProcess, "the manifest says process"},
      {false, "process", Isolation::kProcess, Isolation::kProcess, "the manifest says process"},
      // Neither: the default.
      {false, "", Isolation::kInline, Isolation::kInline, "isolation_default is inline"},
      {false, "", Isolation::kProcess, Isolation::kProcess, "isolation_default is process"},
  };
  for (const Row& row : table) {
    const IsolationDecision decision =
        EffectiveIsolation(row.manifest, kSigner, row.signer_isolated, row.daemon_default);
    const std::string where = std::string("signer_isolated=") +
                              (row.signer_isolated ? "true" : "false") + " manifest='" +
                              row.manifest + "' default=" +
                              std::string(IsolationName(row.daemon_default));
    EXPECT_EQ(decision.isolation, row.expected) << where;
    EXPECT_EQ(decision.reason, row.reason) << where;
  }
}

TEST(IsolationTest, AManifestValueThatSlippedPastValidationIsConfined) {
  // ValidateManifest refuses it; should one get here, it is not run inline.
  const IsolationDecision decision =
      EffectiveIsolation("Inline", kSigner, /*signer_isolated=*/false, Isolation::kInline);
  EXPECT_EQ(decision.isolation, Isolation::kProcess);
  EXPECT_EQ(decision.reason, "the manifest's isolation 'Inline' is not inline or process");
}

TEST(IsolatedHostLimitsTest, DefaultsAreTheDocumentedOnes) {
  const IsolatedHostLimits limits;
  EXPECT_EQ(limits.memory_bytes, 4294967296u);
  EXPECT_EQ(limits.cpu_seconds, 0u);
  EXPECT_EQ(limits.open_files, 256u);
  EXPECT_EQ(limits.user, "nobody");
  EXPECT_EQ(limits.handler_timeout, absl::Milliseconds(30000));
}

}  // namespace
}  // namespace troupe::bundle
