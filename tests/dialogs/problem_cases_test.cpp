// Table-driven problem and figure cases, English and Chinese: each sentence with the categories it
// reports and their figures, written as `category{metric=value,...}` sorted by category and metric.
// A region is the place as the customer spelled it (the corpus convention), not a canonical name.
// The observed period (metrics.period) is checked separately.
#include <catch2/catch.hpp>

#include "dialogs/text.h"
#include "dialogs/understanding.h"
#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

namespace {

struct Case {
  const char* text;
  const char* expected;
};

const Case kCases[] = {
    {"latency over 300ms and packet loss 5%", "latency{latency_ms=300} packet_loss{packet_loss_pct=5}"},
    {"Latency is 350 ms", "latency{latency_ms=350}"},
    {"ping 280", "latency{latency_ms=280}"},
    {"the lag is terrible, around 2 seconds", "latency{latency_ms=2000}"},
    {"latency 300-400ms", "latency{latency_ms=400}"},
    {"latency between 300 and 500 ms", "latency{latency_ms=500}"},
    {"jitter of 80ms", "latency{jitter_ms=80}"},
    {"latency 250ms with jitter 60ms", "latency{jitter_ms=60,latency_ms=250}"},
    {"packet loss of 3.5%", "packet_loss{packet_loss_pct=3.5}"},
    {"we see 12 percent packet loss", "packet_loss{packet_loss_pct=12}"},
    {"loss rate 8 per cent", "packet_loss{packet_loss_pct=8}"},
    {"availability was only 97.5%", "availability{availability_pct=97.5}"},
    {"uptime 95%", "availability{availability_pct=95}"},
    {"the line is down all the time", "availability{}"},
    {"constant disconnects", "availability{}"},
    {"outages every evening", "availability{}"},
    {"bandwidth only 20Mbps", "bandwidth{bandwidth_mbps=20}"},
    {"we get 15 Mbps instead of 100", "bandwidth{bandwidth_mbps=15}"},
    {"throughput drops to 8 mbit/s", "bandwidth{bandwidth_mbps=8}"},
    {"upload speed is 1.5 mb/s", "bandwidth{bandwidth_mbps=1.5}"},
    {"bandwidth 500k", "bandwidth{bandwidth_mbps=0.5}"},
    {"Singapore viewers can't connect at all", "region_unreachable{region=Singapore}"},
    {"our viewers in Indonesia cannot connect", "region_unreachable{region=Indonesia}"},
    {"Dubai is unreachable", "region_unreachable{region=Dubai}"},
    {"high latency in Japan, 300ms", "latency{latency_ms=300,region=Japan}"},
    {"packet loss 10% to Brazil", "packet_loss{packet_loss_pct=10,region=Brazil}"},
    {"the promised feature for multi-bitrate was never delivered", "feature_missing{}"},
    {"the transcoding feature was not provided", "feature_missing{}"},
    {"no support at all, nobody answered our tickets", "support_missing{}"},
    {"support never replied to us", "support_missing{}"},
    {"latency 300ms, packet loss 5%, availability 98%",
     "availability{availability_pct=98} latency{latency_ms=300} packet_loss{packet_loss_pct=5}"},
    {"ping spikes to 900 ms during peak hours", "latency{latency_ms=900}"},
    {"rtt of 450ms to Europe", "latency{latency_ms=450,region=Europe}"},
    {"frequent buffering, bandwidth under 10 Mbps", "bandwidth{bandwidth_mbps=10}"},
    {"stream keeps freezing", "latency{}"},
    {"we lose packets", "packet_loss{}"},
    {"video stutters", "latency{}"},
    {"I want a refund", ""},
    {"hello", ""},
    {"the contract says 99.9% availability but we got 99.1%", "availability{availability_pct=99.1}"},
    {"latency is fine but packet loss is 7%", "packet_loss{packet_loss_pct=7}"},
    {"ping is ok, but bandwidth only 5mbps", "bandwidth{bandwidth_mbps=5}"},
    {"latency: 320 ms", "latency{latency_ms=320}"},
    {"Latency=320ms", "latency{latency_ms=320}"},
    {"RTT 1.2 s", "latency{latency_ms=1200}"},
    {"delay of 5 seconds", "latency{latency_ms=5000}"},
    {"down for 30 seconds every hour", "availability{}"},
    {"packet loss above 2%", "packet_loss{packet_loss_pct=2}"},
    {"loss 0.5%", "packet_loss{packet_loss_pct=0.5}"},
    {"availability 99.2% last month", "availability{availability_pct=99.2}"},
    {"latency to the US is 280ms", "latency{latency_ms=280,region=US}"},
    {"viewers in the UK can't connect", "region_unreachable{region=UK}"},
    {"Saudi viewers see 15% packet loss", "packet_loss{packet_loss_pct=15,region=Saudi}"},
    {"Thailand: latency 600ms, loss 9%",
     "latency{latency_ms=600,region=Thailand} packet_loss{packet_loss_pct=9,region=Thailand}"},
    {"the line is slow", ""},
    {"our stream in Vietnam keeps disconnecting", "availability{region=Vietnam}"},
    {"service unavailable for 3 hours yesterday", "availability{}"},
    {"it went offline twice", "availability{}"},
    {"we were promised 24/7 support but no response for days", "support_missing{}"},
    {"technical support is missing", "support_missing{}"},
    {"the Middle East region was promised but can't be reached", "region_unreachable{region=Middle East}"},
    {"latency 300ms packet loss 5% bandwidth 10mbps",
     "bandwidth{bandwidth_mbps=10} latency{latency_ms=300} packet_loss{packet_loss_pct=5}"},
    {"latency ~300ms", "latency{latency_ms=300}"},
    {"latency around 300 milliseconds", "latency{latency_ms=300}"},
    {"latency is 1,200 ms", "latency{latency_ms=1200}"},
    {"bandwidth dropped from 100 Mbps to 30 Mbps", "bandwidth{bandwidth_mbps=30}"},
    {"5% packet loss in Malaysia", "packet_loss{packet_loss_pct=5,region=Malaysia}"},
    {"availability 96 percent", "availability{availability_pct=96}"},
    {"we measured 99% uptime", "availability{availability_pct=99}"},
    {"our traceroute shows 40% loss at the border", "packet_loss{packet_loss_pct=40}"},
    {"CDN acceleration was promised and never delivered", "feature_missing{}"},
    {"support is not responding", "support_missing{}"},
    {"there was no support", "support_missing{}"},
    {"high ping and lag spikes", "latency{}"},
    {"ping: 150ms avg, 400ms peak", "latency{latency_ms=400}"},
    {"延迟300毫秒", "latency{latency_ms=300}"},
    {"延迟三百毫秒", "latency{latency_ms=300}"},
    {"延迟三四百毫秒", "latency{latency_ms=400}"},
    {"延迟高达1.5秒", "latency{latency_ms=1500}"},
    {"延迟两秒", "latency{latency_ms=2000}"},
    {"延迟300", "latency{latency_ms=300}"},
    {"丢包5%", "packet_loss{packet_loss_pct=5}"},
    {"丢包百分之五", "packet_loss{packet_loss_pct=5}"},
    {"丢包率百分之十二", "packet_loss{packet_loss_pct=12}"},
    {"丢包率达到0.8%", "packet_loss{packet_loss_pct=0.8}"},
    {"可用性只有97%", "availability{availability_pct=97}"},
    {"可用性百分之九十九点五", "availability{availability_pct=99.5}"},
    {"经常掉线", "availability{}"},
    {"直播老是断流", "availability{}"},
    {"带宽只有20兆", "bandwidth{bandwidth_mbps=20}"},
    {"带宽二十兆都跑不满", "bandwidth{bandwidth_mbps=20}"},
    {"带宽只有10Mbps", "bandwidth{bandwidth_mbps=10}"},
    {"上行带宽不够用", "bandwidth{}"},
    {"东南亚那边一直卡，延迟三四百毫秒", "latency{latency_ms=400,region=东南亚}"},
    {"新加坡的观众完全连不上", "region_unreachable{region=新加坡}"},
    {"中东地区无法访问", "region_unreachable{region=中东}"},
    {"北美延迟200多毫秒", "latency{latency_ms=200,region=北美}"},
    {"欧洲丢包严重，大概10%", "packet_loss{packet_loss_pct=10,region=欧洲}"},
    {"抖动50毫秒", "latency{jitter_ms=50}"},
    {"延迟250毫秒，抖动80毫秒", "latency{jitter_ms=80,latency_ms=250}"},
    {"承诺的功能没有提供", "feature_missing{}"},
    {"说好的转码功能一直没给", "feature_missing{}"},
    {"技术支持没人回复", "support_missing{}"},
    {"客服不回消息", "support_missing{}"},
    {"延迟300毫秒，丢包5%，可用性98%",
     "availability{availability_pct=98} latency{latency_ms=300} packet_loss{packet_loss_pct=5}"},
    {"我要退款", ""},
    {"你好", ""},
    {"卡顿很严重", "latency{}"},
    {"画面一直卡", "latency{}"},
    {"用信用卡付的", ""},
    {"带宽从100兆掉到30兆", "bandwidth{bandwidth_mbps=30}"},
    {"日本延迟高，300毫秒左右", "latency{latency_ms=300,region=日本}"},
    {"印尼观众连接不上", "region_unreachable{region=印尼}"},
    {"马来西亚丢包8%", "packet_loss{packet_loss_pct=8,region=马来西亚}"},
    {"延迟正常，但是丢包5%", "packet_loss{packet_loss_pct=5}"},
    {"網速很慢，帶寬只有5兆", "bandwidth{bandwidth_mbps=5}"},
    {"延遲400毫秒", "latency{latency_ms=400}"},
    {"丟包嚴重", "packet_loss{}"},
    {"可用性不到99%", "availability{availability_pct=99}"},
    {"经常断线，可用性大概95%", "availability{availability_pct=95}"},
    {"延迟500ms", "latency{latency_ms=500}"},
    {"丢包率3.5%", "packet_loss{packet_loss_pct=3.5}"},
    {"时延在200到300毫秒之间", "latency{latency_ms=300}"},
    {"延迟1秒以上", "latency{latency_ms=1000}"},
    {"巴西那边完全打不开", "region_unreachable{region=巴西}"},
    {"泰国延迟很高", "latency{region=泰国}"},
    {"高峰期丢包10%", "packet_loss{packet_loss_pct=10}"},
    {"晚高峰延迟飙到800毫秒", "latency{latency_ms=800}"},
    {"宕机了三个小时", "availability{}"},
    {"服务不可用", "availability{}"},
    {"技术支持不到位", "support_missing{}"},
    {"客服一直不回复", "support_missing{}"},
    {"承诺的东南亚节点根本连不上", "region_unreachable{region=东南亚}"},
    {"延迟大概两三百毫秒", "latency{latency_ms=300}"},
    {"丢包百分之二十", "packet_loss{packet_loss_pct=20}"},
    {"可用性才百分之九十", "availability{availability_pct=90}"},
    {"带宽50M", "bandwidth{bandwidth_mbps=50}"},
    {"带宽1G的线路只跑到200M", "bandwidth{bandwidth_mbps=200}"},
    {"韩国那边延迟150毫秒", "latency{latency_ms=150,region=韩国}"},
    {"菲律宾打不开", "region_unreachable{region=菲律宾}"},
    {"英国观众访问不了", "region_unreachable{region=英国}"},
    {"美国延迟300毫秒，丢包2%",
     "latency{latency_ms=300,region=美国} packet_loss{packet_loss_pct=2,region=美国}"},
    {"越南的直播一直卡顿", "latency{region=越南}"},
    {"这几天掉线很频繁", "availability{}"},
    {"每天晚上延迟都在400毫秒以上", "latency{latency_ms=400}"},
    {"码率上不去", "bandwidth{}"},
    {"澳洲丢包15%", "packet_loss{packet_loss_pct=15,region=澳洲}"},
    {"德国连接不上", "region_unreachable{region=德国}"},
    {"延迟三百五十毫秒", "latency{latency_ms=350}"},
    {"延迟一千毫秒", "latency{latency_ms=1000}"},
    {"丢包零点五%", "packet_loss{packet_loss_pct=0.5}"},
};

std::string Render(const std::vector<Problem>& problems) {
  std::vector<std::string> parts;
  for (const auto& p : problems) {
    std::string m;
    for (const auto& [k, v] : p.metrics.items()) {
      if (k == "period") continue;
      m += (m.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    parts.push_back(p.category + "{" + m + "}");
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

Understanding Of(const std::string& text) {
  return Understand(text, NormalizeForParsing(text), Date{2026, 11, 27}, ShippedKnowledge()->vocab, "problems");
}

}  // namespace

TEST_CASE("problem categories and figures, English and Chinese", "[problems][table]") {
  STATIC_REQUIRE(std::size(kCases) >= 150);
  int failed = 0;
  for (const Case& c : kCases) {
    std::string got = Render(Of(c.text).problems);
    if (got != c.expected) {
      ++failed;
      UNSCOPED_INFO("\"" << c.text << "\": expected [" << c.expected << "] got [" << got << "]");
    }
  }
  CHECK(failed == 0);
}

TEST_CASE("problems keep the customer's words and the period observed", "[problems]") {
  auto u = Of("這兩週東南亞那邊一直卡，延遲三四百毫秒");
  REQUIRE(u.problems.size() == 1);
  CHECK(u.problems[0].description == "這兩週東南亞那邊一直卡，延遲三四百毫秒");  // the original, not normalized
  CHECK(u.problems[0].metrics["period"] == "这两周");
  CHECK(Of("outages every evening").problems[0].metrics["period"] == "every evening");
}

TEST_CASE("evidence types from uploaded file names", "[evidence]") {
  const auto& v = ShippedKnowledge()->vocab;
  CHECK(EvidenceTypeForFile("Service_Contract_2026.pdf", v) == "contract");
  CHECK(EvidenceTypeForFile("合同扫描件.pdf", v) == "contract");
  CHECK(EvidenceTypeForFile("invoice-oct.pdf", v) == "payment_receipt");
  CHECK(EvidenceTypeForFile("付款凭证.jpg", v) == "payment_receipt");
  CHECK(EvidenceTypeForFile("speedtest_singapore.csv", v) == "test_report");
  CHECK(EvidenceTypeForFile("mtr-to-jakarta.txt", v) == "test_report");
  CHECK(EvidenceTypeForFile("监控报告.xlsx", v) == "test_report");
  CHECK(EvidenceTypeForFile("wechat chat history.txt", v) == "communication_records");
  CHECK(EvidenceTypeForFile("Screenshot 2026-11-20 at 10.02.png", v) == "screenshot");
  CHECK(EvidenceTypeForFile("IMG_2041.PNG", v) == "screenshot");
  CHECK(EvidenceTypeForFile("thread.eml", v) == "communication_records");
  CHECK(EvidenceTypeForFile("ping.log", v) == "test_report");
  CHECK(EvidenceTypeForFile("document.pdf", v) == "other");
}

}  // namespace rd::test
