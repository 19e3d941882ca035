#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "dialogs/text.h"
#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

// The filter may only ever say "maybe": a wrong "no" would make the understanding miss a word the
// customer wrote. Texts and words are drawn from a small alphabet (ASCII, digits, a Chinese character's
// bytes) so that words often do occur, including across pair-hash collisions.
TEST_CASE("Utf8Prefix never cuts a character in two", "[text]") {
  const std::string text = "退款 refund";  // 3 + 3 bytes, then ASCII
  CHECK(Utf8Prefix(text, 100) == text);
  CHECK(Utf8Prefix(text, 6) == "退款");
  CHECK(Utf8Prefix(text, 5) == "退");
  CHECK(Utf8Prefix(text, 4) == "退");
  CHECK(Utf8Prefix(text, 3) == "退");
  CHECK(Utf8Prefix(text, 2).empty());
  CHECK(Utf8Prefix(text, 8) == "退款 r");
  for (size_t n = 0; n <= text.size(); ++n) CHECK(IsValidUtf8(Utf8Prefix(text, n)));
}

TEST_CASE("SubstringFilter never rules out a word that occurs", "[text]") {
  const std::vector<std::string> pieces = {"a", "b", "e", "n", "t", " ", "0", "9", "%", "-", "延", "迟", "丢包"};
  std::mt19937 random(20261127);
  const auto draw = [&](size_t parts) {
    std::string s;
    for (size_t i = 0; i < parts; ++i) s += pieces[random() % pieces.size()];
    return s;
  };
  int occurring = 0, ruled_out = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::string text = draw(1 + random() % 40);
    const SubstringFilter filter(text);
    // Every substring of the text, by bytes (a cut UTF-8 sequence included).
    for (size_t b = 0; b < text.size(); ++b) {
      for (size_t n = 1; b + n <= text.size() && n <= 8; ++n) {
        ++occurring;
        if (!filter.MayContain(std::string_view(text).substr(b, n))) FAIL("ruled out \"" << text.substr(b, n) << "\" in \"" << text << "\"");
      }
    }
    const std::string word = draw(1 + random() % 4);
    const bool occurs = text.find(word) != std::string::npos;
    if (occurs) CHECK(filter.MayContain(word));
    if (!filter.MayContain(word)) ++ruled_out;
  }
  CHECK(occurring > 10000);
  CHECK(ruled_out > 500);  // and it does rule words out
}

// What it is for: of the shipped vocabulary's problem words, almost none get past the filter of a
// message that is about dates, where the text's bytes alone let many through.
TEST_CASE("SubstringFilter rules out nearly every absent vocabulary word of a short message", "[text]") {
  const std::string text = NormalizeForParsing("Hi, I paid on 2026-11-01 and it was activated on 2026-11-05");
  const SubstringFilter filter(text);
  int absent = 0, passed = 0;
  for (const auto& [category, words] : ShippedKnowledge()->vocab.problems) {
    for (const std::string& w : words) {
      if (text.find(w) != std::string::npos) continue;
      ++absent;
      if (filter.MayContain(w)) ++passed;
    }
  }
  REQUIRE(absent > 40);
  CHECK(passed * 10 < absent);  // fewer than one in ten
}

}  // namespace rd::test
