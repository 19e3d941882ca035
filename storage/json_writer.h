// Writes one JSON text as it goes, with no tree: for what is written on every turn (the store's rows,
// the chat answer, log lines, the chat.postMessage body), where nlohmann's dump — or building a tree
// first — cost more than the text it became. Here because the store is its lowest user.
// The caller keeps the structure right: Begin/End pairs, and Key() before each member of an object.
// A string that is not valid UTF-8 has each bad byte replaced by U+FFFD, so the output always parses
// (nlohmann's error_handler_t::replace does the same, except that it replaces a sequence cut short with
// one U+FFFD where this writes one per byte).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rd {

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Number(double value);  // finite; written with up to 6 significant decimals
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  JsonWriter& Value(const nlohmann::json& value);  // any tree, as nlohmann dumps it

  // Key(key) followed by the value.
  JsonWriter& Member(std::string_view key, std::string_view value) { return Key(key).String(value); }
  JsonWriter& Member(std::string_view key, const char* value) { return Key(key).String(value); }
  JsonWriter& Member(std::string_view key, int64_t value) { return Key(key).Int(value); }
  JsonWriter& Member(std::string_view key, int value) { return Key(key).Int(value); }
  JsonWriter& Member(std::string_view key, size_t value) { return Key(key).Int(static_cast<int64_t>(value)); }
  JsonWriter& Member(std::string_view key, double value) { return Key(key).Number(value); }
  JsonWriter& Member(std::string_view key, bool value) { return Key(key).Bool(value); }

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();
  JsonWriter& Open(char bracket);
  JsonWriter& Close(char bracket);

  std::string out_;
  std::vector<bool> has_members_;  // per open object/array: a comma goes before the next value
  bool after_key_ = false;
};

// `s` as a JSON string literal (quotes included), appended to `out`.
void AppendJsonString(std::string_view s, std::string* out);

// The compact text of `value`: what value.dump(-1, ' ', false, error_handler_t::replace) writes for
// valid UTF-8, in about two thirds of the time (the chat answer, on every turn).
std::string JsonText(const nlohmann::json& value);

}  // namespace rd
