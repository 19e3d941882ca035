// Evidence files from any channel (web upload, Slack, WeCom) are typed by our own checks, never by what
// a client or a platform says: the name's extension must be on the allow-list and the first bytes must
// be what the extension claims (text files: valid UTF-8 without NUL). Names are cleaned before they are
// stored or shown: control characters and bidi overrides ("invoice\u202efdp.txt" reads "invoicetxt.pdf")
// are removed, path separators too.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rd {

struct FileTypeCheck {
  std::string content_type;  // ours, from the allow-list ("application/pdf"); set when error is empty
  std::string error;         // "" | "unsupported_type" (extension not allowed) | "content_mismatch"
  std::string message;       // for the client
};

// The allowed extensions, for messages: "pdf, png, jpg, txt, csv, xlsx".
const char* AllowedFileTypes();
// The content type of an allowed extension of `name` (lower-cased), or nullopt.
std::optional<std::string> ContentTypeForName(std::string_view name);
// `name`'s extension allowed and `bytes` starting as that type must.
FileTypeCheck CheckFileType(std::string_view name, std::string_view bytes);

// `name` without control characters (C0, DEL, C1), bidi marks and overrides (U+061C, U+200E/F,
// U+202A..E, U+2066..9) and anything before the last '/' or '\'; invalid UTF-8 dropped; at most 200
// bytes (the extension kept); "file" when nothing is left.
std::string CleanFileName(std::string_view name);
// A name to download `name` as: cleaned, and ending in the extension of `content_type` when it does not
// already ("report" of application/pdf downloads as "report.pdf"; an unknown type as ".bin").
std::string DownloadFileName(std::string_view name, std::string_view content_type);

}  // namespace rd
