// The refundbot command line: terminal chat, tickets, parse-date, check-knowledge, --help.
#include <catch2/catch.hpp>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "tests/bot/server_process.h"

namespace rd::test {

namespace {

using Run = CommandRun;

// Runs refundbot with `args`, feeding `input` on stdin; returns exit code and stdout.
Run Refundbot(const std::string& args, const std::string& input = "") {
  TempDir tmp;
  std::string in = tmp.File("stdin.txt");
  std::ofstream(in) << input;
  return RunCommand(std::string(RD_REFUNDBOT) + " " + args + " < " + in + " 2>/dev/null");
}

}  // namespace

TEST_CASE("terminal chat runs the whole claim from a script and files a ticket", "[cli]") {
  TempDir dir;
  std::string db = dir.File("rd.sqlite3");
  std::string common = "--db " + db + " --knowledge " RD_KNOWLEDGE_DIR " --now 2026-11-10T02:00:00Z";
  Run chat = Refundbot("chat --lang en " + common,
                       "hello\n"
                       "paid on 2026-11-01, activated on 2026-11-05\n"
                       "1\n"  // the first quick reply: high latency
                       "contract\n"
                       "order 4455667\n"
                       "yes\n");
  CHECK(chat.code == 0);
  CHECK(chat.out.find("bot> ") != std::string::npos);
  CHECK(chat.out.find("[1] ") != std::string::npos);
  REQUIRE(chat.out.find("ticket> ") != std::string::npos);

  Run list = Refundbot("tickets list --json --db " + db);
  CHECK(list.code == 0);
  json tickets = json::parse(list.out);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0]["channel"] == "terminal");
  CHECK(tickets[0]["problems"][0]["category"] == "latency");
  CHECK(tickets[0]["contact"].value("order", "") == "4455667");
  std::string id = tickets[0]["id"];

  Run plain = Refundbot("tickets list --db " + db);
  CHECK(plain.out.find(id) != std::string::npos);
  Run show = Refundbot("tickets show " + id + " --json --db " + db);
  CHECK(json::parse(show.out) == tickets[0]);
  Run missing = Refundbot("tickets show RF-20000101-0001 --db " + db);
  CHECK(missing.code == 1);
  Run exported = Refundbot("tickets export --json --db " + db);
  CHECK(json::parse(exported.out) == tickets);
  Run filtered = Refundbot("tickets list --status refunded --json --db " + db);
  CHECK(json::parse(filtered.out).empty());
}

TEST_CASE("parse-date answers one JSON line per input line", "[cli]") {
  Run r = Refundbot("parse-date --knowledge " RD_KNOWLEDGE_DIR,
                    "{\"text\": \"paid on 2026-11-01, activated Nov 5\", \"ref\": \"2026-11-27\", \"lang\": \"en\"}\n"
                    "{\"text\": \"2月30日\", \"ref\": \"2026-11-27\", \"lang\": \"zh\"}\n"
                    "not json\n");
  std::istringstream lines(r.out);
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  CHECK(json::parse(l1) == json{{"date", "2026-11-01"}, {"dates", {"2026-11-01", "2026-11-05"}}});
  CHECK(json::parse(l2) == json{{"date", nullptr}, {"dates", json::array()}});
  CHECK(json::parse(l3).contains("error"));
}

TEST_CASE("check-knowledge, --help and bad flags", "[cli]") {
  CHECK(Refundbot("check-knowledge " RD_KNOWLEDGE_DIR).code == 0);
  TempDir dir;
  std::filesystem::copy(RD_KNOWLEDGE_DIR, dir.path, std::filesystem::copy_options::recursive);
  std::ofstream(dir.File("vocabulary.json")) << "{ \"intents\": [ }";
  Run bad = Refundbot("check-knowledge " + dir.path.string());
  CHECK(bad.code == 1);
  CHECK(bad.out.find("vocabulary.json:1") != std::string::npos);
  // The DESIGN form: files name the set they belong to (flows/ included).
  CHECK(Refundbot("check-knowledge " RD_KNOWLEDGE_DIR "/faq.json " RD_KNOWLEDGE_DIR "/flows/refund_claim.json").code == 0);
  Run bad_file = Refundbot("check-knowledge " + dir.File("vocabulary.json"));
  CHECK(bad_file.code == 1);
  CHECK(bad_file.out.find("vocabulary.json:1") != std::string::npos);
  // The server refuses to start on invalid knowledge.
  CHECK(Refundbot("serve --port 0 --db " + dir.File("x.db") + " --knowledge " + dir.path.string()).code == 1);
  Run help = Refundbot("--help");
  CHECK(help.code == 0);
  for (const char* c : {"serve", "chat", "tickets", "check-knowledge", "parse-date", "--config", "--db"}) {
    CHECK(help.out.find(c) != std::string::npos);
  }
  CHECK(Refundbot("serve --port nope").code == 2);
  CHECK(Refundbot("frobnicate").code == 2);
}

TEST_CASE("the config file and environment configure the server", "[cli]") {
  TempDir dir;
  std::ofstream(dir.File("c.json")) << "// comments are allowed\n{\"port\": 0, \"default_lang\": \"en\", \"log_level\": \"warn\"}";
  std::string cmd = "REFUNDBOT_DB=" + dir.File("env.sqlite3") + " " + RD_REFUNDBOT + " serve --config " + dir.File("c.json") +
                    " --knowledge " RD_KNOWLEDGE_DIR " --host 127.0.0.1 > " + dir.File("out.txt") + " 2>&1 & echo $!";
  FILE* p = popen(cmd.c_str(), "r");
  char pid_buf[32] = {0};
  REQUIRE(fgets(pid_buf, sizeof pid_buf, p));
  pclose(p);
  int pid = std::stoi(pid_buf);
  std::string out;
  // Wait for the whole line: a read can land between the server's write of the text and of the newline.
  for (int i = 0; i < 100 && out.find('\n') == std::string::npos; ++i) {
    usleep(50000);
    std::ifstream f(dir.File("out.txt"));
    out.assign(std::istreambuf_iterator<char>(f), {});
  }
  REQUIRE(out.find("listening on http://127.0.0.1:") != std::string::npos);
  int port = std::stoi(out.substr(out.rfind(':') + 1));
  httplib::Client c("127.0.0.1", port);
  ChatReply r = PostChat(c, {{"text", "2026-11-01"}});  // no language in the text: the configured default
  CHECK(r.body["replies"][0]["text"].get<std::string>().find("Hello") == 0);
  // A second server on the same port is refused instead of silently sharing it.
  // (Under `timeout`, so a regression fails the check instead of hanging the suite.)
  std::string second = "timeout 5 " + std::string(RD_REFUNDBOT) + " serve --host 127.0.0.1 --port " + std::to_string(port) +
                       " --db " + dir.File("second.sqlite3") + " --knowledge " RD_KNOWLEDGE_DIR " >/dev/null 2>&1";
  CHECK(WEXITSTATUS(std::system(second.c_str())) == 1);
  kill(pid, SIGTERM);
  for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i) usleep(20000);  // not our child: poll until gone
  CHECK(std::filesystem::exists(dir.File("env.sqlite3")));  // REFUNDBOT_DB chose the file
  std::ofstream(dir.File("bad.json")) << "{\"colour\": 1}";
  CHECK(Refundbot("serve --config " + dir.File("bad.json")).code == 2);
}

}  // namespace rd::test
