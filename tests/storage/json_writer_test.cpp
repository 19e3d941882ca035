#include "storage/json_writer.h"

#include <catch2/catch.hpp>
#include <cmath>


namespace rd {
namespace {

using nlohmann::json;

TEST_CASE("JsonWriter writes nested objects and arrays that parse back to the same values", "[json_writer]") {
  JsonWriter w;
  w.BeginObject()
      .Member("text", "Ticket \"RF-1\"\nfiled \\ 退款")
      .Member("count", int64_t{-42})
      .Member("ratio", 0.125)
      .Member("ok", true)
      .Key("none").Null()
      .Key("list").BeginArray().String("a").Int(1).BeginObject().EndObject().BeginArray().EndArray().EndArray()
      .Key("tree").Value(json{{"b", {1, 2}}, {"a", "x"}})
      .EndObject();
  json back = json::parse(w.text());
  CHECK(back == json{{"text", "Ticket \"RF-1\"\nfiled \\ 退款"}, {"count", -42}, {"ratio", 0.125}, {"ok", true},
                     {"none", nullptr}, {"list", json::array({"a", 1, json::object(), json::array()})},
                     {"tree", {{"a", "x"}, {"b", {1, 2}}}}});
}

TEST_CASE("JsonWriter escapes control characters and replaces bytes that are not UTF-8", "[json_writer]") {
  std::string controls = std::string("a\x01") + '\0' + "\t\x1f" + "b";
  JsonWriter w;
  w.BeginArray().String(controls).String("ok \xff\xfe end").String("\xe9\x80").String("\xed\xa0\x80").String("\xc0\xaf")
      .String("𝄞 é").EndArray();
  json back = json::parse(w.text());  // throws if anything above made invalid JSON
  CHECK(back[0] == controls);
  CHECK(back[1] == "ok \xEF\xBF\xBD\xEF\xBF\xBD end");  // each bad byte one U+FFFD
  CHECK(back[2] == "\xEF\xBF\xBD\xEF\xBF\xBD");             // a sequence cut short
  CHECK(back[3] == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a UTF-16 surrogate is not UTF-8
  CHECK(back[4] == "\xEF\xBF\xBD\xEF\xBF\xBD");             // an overlong "/"
  CHECK(back[5] == "𝄞 é");
  // The same replacement nlohmann makes, so log lines read alike whichever way they were written.
  CHECK(back[1] == json::parse(json("ok \xff\xfe end").dump(-1, ' ', false, json::error_handler_t::replace)));
}

TEST_CASE("JsonWriter escapes a character wherever it sits in a long string (strings are scanned by words)", "[json_writer]") {
  // Each character that needs care, at every offset of a 40-byte string: before, inside and after
  // each 8-byte word, and in the tail shorter than a word.
  const std::vector<std::string> specials = {"\"", "\\", "\n", std::string(1, '\x01'), std::string(1, '\x1f'),
                                             "\x7f", "é", "退", "\xff"};
  for (const std::string& special : specials) {
    for (size_t at = 0; at <= 40; ++at) {
      std::string text(40, 'a');
      text.insert(at, special);
      const json value = text;
      INFO("special " << json(special).dump(-1, ' ', false, json::error_handler_t::replace) << " at " << at);
      REQUIRE(JsonText(value) == value.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
}

TEST_CASE("JsonWriter writes numbers JSON can hold", "[json_writer]") {
  JsonWriter w;
  w.BeginArray().Number(12.3456789).Number(0).Number(1e21).Number(NAN).Int(INT64_MIN).EndArray();
  json back = json::parse(w.text());
  CHECK(back[0].get<double>() == Approx(12.3457));
  CHECK(back[1] == 0);
  CHECK(back[2].get<double>() == Approx(1e21));
  CHECK(back[3].is_null());
  CHECK(back[4].get<int64_t>() == INT64_MIN);
}

TEST_CASE("JsonText writes what nlohmann's compact dump writes", "[json_writer]") {
  const json trees[] = {
      json::parse(R"({"conversation_id":"cv_1","state":"collecting","pending_slot":null,"replies":[{"text":"Noted: \"2026-11-01\"\n退款","quick_replies":["Yes","否"]}],"ticket":{"metrics":{"latency_ms":300,"packet_loss_pct":5.5,"big":18446744073709551615,"neg":-7}},"empty":{},"none":[],"ok":false,"tab":"a\tb\u0001"})"),
      json(nullptr), json(1.0 / 3), json(-0.0), json("just text"), json::array({json::object(), json::array(), 1e300})};
  for (const json& tree : trees) {
    INFO(tree.dump());
    CHECK(JsonText(tree) == tree.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

}  // namespace
}  // namespace rd
