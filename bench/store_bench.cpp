// The SQLite store alone: realistic turns (a 1.5 KB dialog state, the customer message, two replies —
// one messages row; a ticket every 7th turn) committed one by one from one thread, then from 32
// threads (group commit). Then batches from one thread through CommitTurns, as the event loop commits
// web turns, also without the replies and with a tiny state. Prints turns/s, to separate storage cost
// from HTTP and dialog cost, and to show what in a turn the store pays for.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite_store.h"

using nlohmann::json;

namespace {

json DialogState() {
  json slots = {{"payment_date", "2026-11-01"}, {"activation_date", "2026-11-05"},
                {"problems", json::array({{{"category", "latency"}, {"description", std::string(120, 'x')},
                                           {"metrics", {{"latency_ms", 300}}}}})}};
  return {{"state", "collecting"}, {"lang", "en"}, {"slots", slots}, {"pending", "evidence"},
          {"padding", std::string(900, 'p')}};
}

// What a turn writes besides the customer's message: the bot's two replies, and the dialog state.
struct Shape {
  bool replies = true;
  bool full_dialog = true;  // 1.5 KB; else a few bytes
};

// The next turn of `conv` (a new conversation every 7th turn of `t`); `conv` is advanced as if committed.
rd::TurnCommit NextTurn(const std::string& owner, int t, const json& dialog, rd::ConversationRecord* conv,
                        Shape shape = {}) {
  rd::TurnCommit c;
  const bool create = t % 7 == 0;
  if (create) {
    *conv = {};
    conv->id = "cv_" + owner + "_" + std::to_string(t);
    conv->channel = "web";
    c.session_hash = "h" + conv->id;
  }
  c.create = create;
  conv->state = "collecting";
  conv->pending_slot = "evidence";
  conv->dialog = shape.full_dialog ? dialog : json{{"state", "collecting"}};
  conv->updated_at = 1700000000 + t;
  c.conversation = *conv;
  c.inbound = {0, "customer", "latency over 300ms and packet loss 5%", nullptr, conv->updated_at};
  if (shape.replies) {
    c.replies.push_back({0, "bot", std::string(120, 'r'), nullptr, conv->updated_at});
    c.replies.push_back({0, "bot", std::string(200, 'q'), json::array({"a", "b", "c"}), conv->updated_at});
  }
  if (t % 7 == 6) c.ticket = rd::TicketRecord{"RF-" + conv->id, conv->id, "open", json{{"id", conv->id}}};
  conv->version = create ? 1 : conv->version + 1;
  conv->last_seq += 1 + static_cast<int64_t>(c.replies.size());
  return c;
}

// Runs `turns` turns over conversations owned by this worker, one CommitTurn each.
void Worker(rd::Store* store, int worker, int turns, std::atomic<int>* done) {
  const json dialog = DialogState();
  rd::ConversationRecord conv;
  for (int t = 0; t < turns; ++t) {
    rd::Status st = store->CommitTurn(NextTurn(std::to_string(worker), t, dialog, &conv));
    if (!st.ok()) { std::fprintf(stderr, "%s\n", st.message().c_str()); return; }
    ++*done;
  }
}

// One thread, `batch` conversations advanced together and committed with one CommitTurns each round:
// the event loop's pattern (bot/http_loop.h).
void BatchWorker(rd::Store* store, int batch, int rounds, Shape shape, std::atomic<int>* done) {
  const json dialog = DialogState();
  std::vector<rd::ConversationRecord> convs(batch);
  std::vector<std::string> owners;
  for (int i = 0; i < batch; ++i) owners.push_back(std::string("b").append(std::to_string(i)));
  for (int t = 0; t < rounds; ++t) {
    std::vector<rd::TurnCommit> turns;
    for (int i = 0; i < batch; ++i) turns.push_back(NextTurn(owners[i], t, dialog, &convs[i], shape));
    std::vector<const rd::TurnCommit*> ptrs;
    for (const auto& c : turns) ptrs.push_back(&c);
    for (const rd::Status& st : store->CommitTurns(ptrs)) {
      if (!st.ok()) { std::fprintf(stderr, "%s\n", st.message().c_str()); return; }
      ++*done;
    }
  }
}

double Timed(const std::string& path, const std::function<void(rd::Store*, std::atomic<int>*)>& body) {
  std::string error;
  auto store = rd::OpenSqliteStore(path, rd::SqliteOptions{}, &error);
  if (!store) { std::fprintf(stderr, "%s\n", error.c_str()); return 0; }
  std::atomic<int> done{0};
  auto t0 = std::chrono::steady_clock::now();
  body(store.get(), &done);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return done / secs;
}

double Run(const std::string& path, int threads, int turns_each) {
  return Timed(path, [&](rd::Store* store, std::atomic<int>* done) {
    std::vector<std::thread> pool;
    for (int w = 0; w < threads; ++w) pool.emplace_back(Worker, store, w, turns_each, done);
    for (auto& t : pool) t.join();
  });
}

double RunBatches(const std::string& path, int batch, int rounds, Shape shape = {}) {
  return Timed(path, [&](rd::Store* store, std::atomic<int>* done) { BatchWorker(store, batch, rounds, shape, done); });
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp";
  std::string one = dir + "/store_bench_1_" + std::to_string(getpid()) + ".sqlite3";
  std::string many = dir + "/store_bench_32_" + std::to_string(getpid()) + ".sqlite3";
  std::printf("store, 1 thread:   %.0f turns/s\n", Run(one, 1, 14000));
  std::printf("store, 32 threads: %.0f turns/s (group commit)\n", Run(many, 32, 1400));
  std::vector<std::string> files = {one, many};
  for (int batch : {1, 8, 32}) {
    files.push_back(dir + "/store_bench_b" + std::to_string(batch) + "_" + std::to_string(getpid()) + ".sqlite3");
    std::printf("store, 1 thread, batches of %2d: %.0f turns/s (CommitTurns)\n", batch,
                RunBatches(files.back(), batch, 14000 / batch));
  }
  // What each part of a turn costs the store: the same batches of 8 without the replies, with a tiny state.
  const std::pair<const char*, Shape> shapes[] = {{"without the replies", {false, true}},
                                                  {"with a tiny dialog state", {true, false}},
                                                  {"without either", {false, false}}};
  for (const auto& [name, shape] : shapes) {
    files.push_back(dir + "/store_bench_s" + std::to_string(files.size()) + "_" + std::to_string(getpid()) + ".sqlite3");
    std::printf("store, 1 thread, batches of  8, %s: %.0f turns/s\n", name, RunBatches(files.back(), 8, 14000 / 8, shape));
  }
  for (const auto& p : files) for (const char* s : {"", "-wal", "-shm"}) unlink((p + s).c_str());
}
