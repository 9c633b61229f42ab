// json.cc - nlohmann::json parsing through its SAX interface (which reports
// errors without throwing) and non-throwing printing; see json.h.
#include "daemon/common/json.h"

#include <cmath>
#include <cstddef>
#include <iterator>
#include <set>
#include <utility>
#include <vector>

#include "daemon/common/strings.h"

namespace troupe {
namespace {

// A char iterator that tells how far nlohmann's reader has got (it reads
// one char at a time through the iterator), so a SAX event can name where
// it happened.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* at, const char** furthest) : at_(at), furthest_(furthest) {}
  reference operator*() const { return *at_; }
  TrackingIterator& operator++() {
    *furthest_ = ++at_;
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const TrackingIterator& other) const { return at_ == other.at_; }
  bool operator!=(const TrackingIterator& other) const { return at_ != other.at_; }

 private:
  const char* at_;
  const char** furthest_;
};

absl::Status ErrorAt(std::string_view text, size_t offset, std::string_view what) {
  if (offset > text.size()) offset = text.size();
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::InvalidArgumentError(
      troupe::StrCat("at line ", line, ", column ", offset - line_start + 1, ": ", what));
}

// nlohmann's parse error text ("syntax error while parsing object separator
// - unexpected true literal; expected ':'") in our words where it says a
// token came where another should have, its lexer's own words otherwise
// ("invalid string: ill-formed UTF-8 byte"); and how far back from where
// the reading stopped (`position`) the error is. `last_token` is the text
// nlohmann read since its last string or number began.
struct ParseErrorText {
  std::string what;
  size_t back = 1;  // a char it could not read is the last one read
};

ParseErrorText DescribeParseError(std::string_view message, std::string_view last_token) {
  const size_t dash = message.find(" - ");
  if (dash == std::string_view::npos) return {std::string(message)};
  std::string_view detail = message.substr(dash + 3);
  constexpr std::string_view kLastRead = "; last read: ";
  if (const size_t last = detail.find(kLastRead); last != std::string_view::npos) {
    const std::string_view lexer = detail.substr(0, last);  // a token it could not read
    if (lexer == "invalid literal") return {"expected a JSON value"};
    return {std::string(lexer)};
  }
  constexpr std::string_view kUnexpected = "unexpected ";
  constexpr std::string_view kExpected = "; expected ";
  const size_t expected_at = detail.find(kExpected);
  if (detail.substr(0, kUnexpected.size()) != kUnexpected || expected_at == std::string_view::npos) {
    return {std::string(detail)};
  }
  const std::string_view got = detail.substr(kUnexpected.size(), expected_at - kUnexpected.size());
  const std::string_view expected = detail.substr(expected_at + kExpected.size());
  ParseErrorText out;
  // The unexpected token ends where the reading stopped: point at its start.
  if (got == "true literal" || got == "null literal") {
    out.back = 4;
  } else if (got == "false literal") {
    out.back = 5;
  } else if (got == "string literal" || got == "number literal") {
    out.back = last_token.size();  // nlohmann restarts last_token at these
  } else {
    out.back = 1;  // one char ('[', ':', ...), or the end of the text (read as one more)
  }
  if (expected == "end of input") {
    out.what = "unexpected text after the value";
  } else if (expected == "string literal") {
    out.what = "expected a member name in quotes";
  } else if (expected == "':'") {
    out.what = "expected ':' after a member name";
  } else if (expected == "']'") {
    out.what = "expected ',' or ']'";
  } else if (expected == "'}'") {
    out.what = "expected ',' or '}'";
  } else if (expected == "'[', '{', or a literal") {
    out.what = "expected a JSON value";
  } else {
    out.what = troupe::StrCat("expected ", expected);
  }
  if (got == "end of input") out.what = troupe::StrCat("unexpected end of text, ", out.what);
  return out;
}

// Builds a Json from nlohmann's SAX events, bounding the depth and looking
// for names given twice as JsonParseOptions asks.
template <typename Json>
class Builder {
 public:
  using number_integer_t = typename Json::number_integer_t;
  using number_unsigned_t = typename Json::number_unsigned_t;
  using number_float_t = typename Json::number_float_t;
  using string_t = typename Json::string_t;
  using binary_t = typename Json::binary_t;

  Builder(std::string_view text, const JsonParseOptions& options, const char** furthest)
      : text_(text), options_(options), furthest_(furthest) {}

  absl::StatusOr<Json> Parse() && {
    const bool ok = Json::sax_parse(TrackingIterator(text_.data(), furthest_),
                                    TrackingIterator(text_.data() + text_.size(), furthest_),
                                    this, nlohmann::json::input_format_t::json, /*strict=*/true);
    if (!ok || !status_.ok()) {
      if (status_.ok()) status_ = ErrorAt(text_, text_.size(), "not JSON");  // cannot happen
      return status_;
    }
    return std::move(root_);
  }

  bool null() { return Add(Json(nullptr)); }
  bool boolean(bool value) { return Add(Json(value)); }
  bool number_integer(number_integer_t value) { return Add(Json(value)); }
  bool number_unsigned(number_unsigned_t value) { return Add(Json(value)); }
  bool number_float(number_float_t value, const string_t& /*text*/) {
    // nlohmann refuses an overflow itself (parse_error 406); this is a guard.
    if (!std::isfinite(value)) return Fail(Read() - 1, "number too large");
    return Add(Json(value));
  }
  bool string(string_t& value) { return Add(Json(std::move(value))); }
  bool binary(binary_t& /*value*/) { return Fail(Read(), "binary data is not JSON"); }

  bool start_object(std::size_t /*elements*/) {
    if (!Open(Json::object())) return false;
    if (options_.on_repeated_name) names_.emplace_back();
    return true;
  }
  bool key(string_t& name) {
    if (options_.on_repeated_name) {
      const std::string same = options_.same_name ? options_.same_name(name) : name;
      if (!names_.back().insert(same).second) {
        status_ = options_.on_repeated_name(paths_.back(), name);
        if (!status_.ok()) return false;
      }
    }
    key_ = std::move(name);
    return true;
  }
  bool end_object() {
    if (options_.on_repeated_name) names_.pop_back();
    return Close();
  }
  bool start_array(std::size_t /*elements*/) { return Open(Json::array()); }
  bool end_array() { return Close(); }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& error) {
    ParseErrorText error_text;
    if (error.id == 406) {  // out_of_range.406: the number (the last token) overflows a double
      error_text = {"number too large", last_token.size()};
    } else {
      error_text = DescribeParseError(error.what(), last_token);
    }
    return Fail(position > error_text.back ? position - error_text.back : 0, error_text.what);
  }

 private:
  // How many chars nlohmann has read so far.
  size_t Read() const { return static_cast<size_t>(*furthest_ - text_.data()); }

  bool Fail(size_t offset, std::string_view what) {
    status_ = ErrorAt(text_, offset, what);
    return false;
  }

  // Where the next value goes, or nullptr (and the error set) when it would
  // be nested too deep.
  Json* Slot(const Json& value) {
    if (stack_.size() > static_cast<size_t>(kMaxJsonDepth)) {
      const bool container = value.is_structured();
      Fail(Read() - (container ? 1 : 0),
           troupe::StrCat("nested more than ", kMaxJsonDepth, " deep"));
      return nullptr;
    }
    if (stack_.empty()) return &root_;
    Json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(Json());
      return &parent.back();
    }
    return &parent[key_];
  }

  bool Add(Json value) {
    Json* slot = Slot(value);
    if (slot == nullptr) return false;
    *slot = std::move(value);
    return true;
  }

  bool Open(Json container) {
    std::string path;
    if (options_.on_repeated_name && !stack_.empty()) {
      const Json& parent = *stack_.back();
      path = parent.is_array()
                 ? troupe::StrCat(paths_.back(), "[", parent.size(), "]")
                 : (paths_.back().empty() ? key_ : troupe::StrCat(paths_.back(), ".", key_));
    }
    Json* slot = Slot(container);
    if (slot == nullptr) return false;
    *slot = std::move(container);
    stack_.push_back(slot);
    if (options_.on_repeated_name) paths_.push_back(std::move(path));
    return true;
  }

  bool Close() {
    stack_.pop_back();
    if (options_.on_repeated_name) paths_.pop_back();
    return true;
  }

  std::string_view text_;
  const JsonParseOptions& options_;
  const char** furthest_;
  absl::Status status_;
  Json root_;
  // The open arrays and objects, outermost first; children of the top one
  // are added, so the pointers stay valid until it closes.
  std::vector<Json*> stack_;
  std::string key_;  // the name of the next member of the top object
  // With on_repeated_name: per open object its names; per open container its path.
  std::vector<std::set<std::string>> names_;
  std::vector<std::string> paths_;
};

template <typename Json>
absl::StatusOr<Json> Parse(std::string_view text, const JsonParseOptions& options) {
  const char* furthest = text.data();
  return Builder<Json>(text, options, &furthest).Parse();
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, const JsonParseOptions& options) {
  return Parse<nlohmann::json>(text, options);
}

absl::StatusOr<nlohmann::ordered_json> ParseOrderedJson(std::string_view text,
                                                        const JsonParseOptions& options) {
  return Parse<nlohmann::ordered_json>(text, options);
}

std::string JsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

std::string JsonText(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false,
                    nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace troupe
