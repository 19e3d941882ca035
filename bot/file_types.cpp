#include "bot/file_types.h"

#include <cctype>
#include <map>

#include "dialogs/text.h"

namespace rd {

namespace {

struct AllowedType {
  const char* content_type;
  std::string_view magic;  // how the file must start; empty: text
};

const std::map<std::string, AllowedType>& Allowed() {
  static const std::map<std::string, AllowedType> types = {
      {"pdf", {"application/pdf", "%PDF-"}},
      {"png", {"image/png", "\x89PNG\r\n\x1a\n"}},
      {"jpg", {"image/jpeg", "\xff\xd8\xff"}},
      {"jpeg", {"image/jpeg", "\xff\xd8\xff"}},
      {"xlsx", {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", std::string_view("PK\x03\x04", 4)}},
      {"txt", {"text/plain; charset=utf-8", ""}},
      {"csv", {"text/csv; charset=utf-8", ""}},
  };
  return types;
}

std::string Extension(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "";
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// The length of the UTF-8 sequence starting at s[i] when it is well formed, else 0.
size_t SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  return IsValidUtf8(s.substr(i, n)) ? n : 0;
}

char32_t CodePoint(std::string_view seq) {
  const auto b = [&](size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(seq[i])); };
  switch (seq.size()) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
    case 3: return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
    default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) | (b(3) & 0x3f);
  }
}

bool Unsafe(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x61c || c == 0x200e || c == 0x200f ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

}  // namespace

const char* AllowedFileTypes() { return "pdf, png, jpg, txt, csv, xlsx"; }

std::optional<std::string> ContentTypeForName(std::string_view name) {
  auto it = Allowed().find(Extension(name));
  if (it == Allowed().end()) return std::nullopt;
  return std::string(it->second.content_type);
}

FileTypeCheck CheckFileType(std::string_view name, std::string_view bytes) {
  FileTypeCheck out;
  auto it = Allowed().find(Extension(name));
  if (it == Allowed().end()) {
    out.error = "unsupported_type";
    out.message = std::string("allowed files: ") + AllowedFileTypes();
    return out;
  }
  const AllowedType& t = it->second;
  const bool is_text = t.magic.empty();
  if ((is_text && (!IsValidUtf8(bytes) || bytes.find('\0') != std::string_view::npos)) ||
      (!is_text && bytes.compare(0, t.magic.size(), t.magic) != 0)) {
    out.error = "content_mismatch";
    out.message = "the file's content is not what its name says";
    return out;
  }
  out.content_type = t.content_type;
  return out;
}

std::string CleanFileName(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size();) {
    const size_t n = SequenceLength(name, i);
    if (n == 0) { ++i; continue; }  // a stray byte of invalid UTF-8
    const std::string_view seq = name.substr(i, n);
    i += n;
    if (seq == "/" || seq == "\\") { out.clear(); continue; }  // the base name only
    if (!Unsafe(CodePoint(seq))) out += seq;
  }
  const size_t first = out.find_first_not_of(" .");  // no hidden or all-dots names
  out = first == std::string::npos ? "" : out.substr(first);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > 200) {
    const std::string ext = Extension(out).size() <= 8 ? "." + Extension(out) : "";
    out = std::string(Utf8Prefix(out, 200 - ext.size())) + (ext == "." ? "" : ext);
  }
  return out.empty() ? "file" : out;
}

std::string DownloadFileName(std::string_view name, std::string_view content_type) {
  std::string clean = CleanFileName(name);
  const std::string type(content_type.substr(0, content_type.find(';')));
  if (auto it = Allowed().find(Extension(clean)); it != Allowed().end() &&
      std::string_view(it->second.content_type).substr(0, type.size()) == type) {
    return clean;
  }
  std::string ext = "bin";
  for (const auto& [e, t] : Allowed()) {
    if (std::string_view(t.content_type).substr(0, std::string_view(t.content_type).find(';')) == type) { ext = e; break; }
  }
  if (ext == "jpeg") ext = "jpg";
  return clean + "." + ext;
}

}  // namespace rd
