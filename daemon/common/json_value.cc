#include "daemon/common/json_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "daemon/common/strings.h"

namespace troupe {

// A recursive-descent parser over one text; each method consumes one element.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  absl::StatusOr<JsonValue> ParseAll() {
    JsonValue value;
    SkipSpace();
    if (!Value(0, &value)) return Error();
    SkipSpace();
    if (pos_ != s_.size()) {
      why_ = "unexpected text after the value";
      return Error();
    }
    return value;
  }

 private:
  static constexpr int kMaxDepth = 64;

  absl::Status Error() const {
    size_t at = std::min(error_pos_ == std::string_view::npos ? pos_ : error_pos_, s_.size());
    int line = 1, column = 1;
    for (size_t i = 0; i < at; ++i) {
      if (s_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return absl::InvalidArgumentError(troupe::StrCat("at line ", line, ", column ", column, ": ",
                                                     why_.empty() ? "not JSON" : why_));
  }
  bool Fail(std::string_view why) {
    if (why_.empty()) {
      why_ = std::string(why);
      error_pos_ = pos_;
    }
    return false;
  }

  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return Fail("expected a JSON value");
    pos_ += word.size();
    return true;
  }

  bool Value(int depth, JsonValue* out) {
    if (depth > kMaxDepth) return Fail("nested more than 64 deep");
    if (pos_ >= s_.size()) return Fail("unexpected end of text, expected a value");
    switch (s_[pos_]) {
      case '{':
        out->kind_ = JsonValue::Kind::kObject;
        return Object(depth, out);
      case '[':
        out->kind_ = JsonValue::Kind::kArray;
        return Array(depth, out);
      case '"':
        out->kind_ = JsonValue::Kind::kString;
        return String(&out->text_);
      case 't':
        out->kind_ = JsonValue::Kind::kBool;
        out->boolean_ = true;
        return Literal("true");
      case 'f':
        out->kind_ = JsonValue::Kind::kBool;
        out->boolean_ = false;
        return Literal("false");
      case 'n':
        out->kind_ = JsonValue::Kind::kNull;
        return Literal("null");
      default:
        out->kind_ = JsonValue::Kind::kNumber;
        return Number(out);
    }
  }

  bool Object(int depth, JsonValue* out) {
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected a member name in quotes");
      JsonValue::Member member;
      if (!String(&member.first)) return false;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected ':' after a member name");
      ++pos_;
      SkipSpace();
      if (!Value(depth + 1, &member.second)) return false;
      out->object_.push_back(std::move(member));
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unexpected end of text, expected ',' or '}'");
      if (s_[pos_] == '}') return ++pos_, true;
      if (s_[pos_] != ',') return Fail("expected ',' or '}'");
      ++pos_;
    }
  }

  bool Array(int depth, JsonValue* out) {
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
    for (;;) {
      SkipSpace();
      JsonValue element;
      if (!Value(depth + 1, &element)) return false;
      out->array_.push_back(std::move(element));
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unexpected end of text, expected ',' or ']'");
      if (s_[pos_] == ']') return ++pos_, true;
      if (s_[pos_] != ',') return Fail("expected ',' or ']'");
      ++pos_;
    }
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  bool Hex4(uint32_t* out) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (pos_ >= s_.size()) return Fail("unexpected end of text in a \\u escape");
      const char c = s_[pos_];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Fail("expected four hex digits after \\u");
      }
    }
    *out = value;
    return true;
  }

  bool String(std::string* out) {
    ++pos_;  // the opening quote
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') return ++pos_, true;
      if (c < 0x20) return Fail("control character in a string (escape it)");
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      if (++pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          // A surrogate pair makes one code point; a lone surrogate is kept as is.
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(pos_, 2) == "\\u") {
            const size_t mark = pos_;
            pos_ += 2;
            uint32_t low = 0;
            if (!Hex4(&low)) return false;
            if (low >= 0xdc00 && low < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            } else {
              pos_ = mark;
            }
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          --pos_;
          return Fail("unknown escape in a string");
      }
    }
    return Fail("unexpected end of text in a string");
  }

  bool Digits() {
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool Number(JsonValue* out) {
    const size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (!Digits()) {
      pos_ = start;
      return Fail("expected a JSON value");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!Digits()) return Fail("expected digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!Digits()) return Fail("expected digits in the exponent");
    }
    out->text_ = std::string(s_.substr(start, pos_ - start));
    const char* first = out->text_.data();
    const char* last = first + out->text_.size();
    auto [end, ec] = std::from_chars(first, last, out->number_);
    if (ec == std::errc::result_out_of_range) {
      // Too small rounds towards 0, as other JSON parsers do; too large is refused.
      const double value = std::strtod(out->text_.c_str(), nullptr);
      if (std::isinf(value)) {
        pos_ = start;
        return Fail("number too large");
      }
      out->number_ = value;
    } else if (ec != std::errc() || end != last) {
      pos_ = start;
      return Fail("bad number");
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t error_pos_ = std::string_view::npos;
  std::string why_;
};

absl::StatusOr<JsonValue> JsonValue::Parse(std::string_view text) {
  return JsonParser(text).ParseAll();
}

const JsonValue* JsonValue::Find(std::string_view name) const {
  const JsonValue* found = nullptr;
  for (const Member& member : object_) {
    if (member.first == name) found = &member.second;
  }
  return found;
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += ch;
        }
    }
  }
  out += "\"";
  return out;
}

std::string JsonValue::ToJson() const {
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return boolean_ ? "true" : "false";
    case Kind::kNumber:
      return text_;
    case Kind::kString:
      return JsonQuote(text_);
    case Kind::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < array_.size(); ++i) {
        if (i > 0) out += ",";
        out += array_[i].ToJson();
      }
      return out + "]";
    }
    case Kind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < object_.size(); ++i) {
        if (i > 0) out += ",";
        troupe::StrAppend(&out, JsonQuote(object_[i].first), ":", object_[i].second.ToJson());
      }
      return out + "}";
    }
  }
  return "null";
}

namespace {

// The members that count: of repeated names, the last.
std::vector<const JsonValue::Member*> Effective(const std::vector<JsonValue::Member>& members) {
  std::vector<const JsonValue::Member*> out;
  for (size_t i = 0; i < members.size(); ++i) {
    bool repeated_later = false;
    for (size_t j = i + 1; j < members.size() && !repeated_later; ++j) {
      repeated_later = members[j].first == members[i].first;
    }
    if (!repeated_later) out.push_back(&members[i]);
  }
  return out;
}

}  // namespace

bool operator==(const JsonValue& a, const JsonValue& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case JsonValue::Kind::kNull:
      return true;
    case JsonValue::Kind::kBool:
      return a.boolean_ == b.boolean_;
    case JsonValue::Kind::kNumber:
      return a.number_ == b.number_;
    case JsonValue::Kind::kString:
      return a.text_ == b.text_;
    case JsonValue::Kind::kArray:
      return a.array_ == b.array_;
    case JsonValue::Kind::kObject: {
      const std::vector<const JsonValue::Member*> left = Effective(a.object_);
      const std::vector<const JsonValue::Member*> right = Effective(b.object_);
      if (left.size() != right.size()) return false;
      for (const JsonValue::Member* member : left) {
        const JsonValue* other = b.Find(member->first);
        if (other == nullptr || !(member->second == *other)) return false;
      }
      return true;
    }
  }
  return false;
}

}  // namespace troupe
