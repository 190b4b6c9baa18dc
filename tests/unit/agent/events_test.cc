#include "agent/events.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>

#include "common/json/json.h"

namespace skr::agent {
namespace {

using namespace std::chrono_literals;

const SystemTime kTime = SystemTime(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z

TEST_CASE("events get increasing sequence numbers and after(N) returns the later ones",
          "[agent][events]") {
  EventLog log;
  CHECK(log.publish(EventType::Released, "a", "v1", kTime) == 1);
  CHECK(log.publish(EventType::Ready, "", "", kTime) == 2);
  CHECK(log.publish(EventType::Rotated, "a", "v2", kTime) == 3);
  EventBatch batch = log.after(1);
  REQUIRE(batch.events.size() == 2);
  CHECK(batch.events[0].seq == 2);
  CHECK(batch.events[1].type == EventType::Rotated);
  CHECK(batch.events[1].version == "v2");
  CHECK(batch.next == 3);
  CHECK(!batch.truncated);
  CHECK(log.after(3).events.empty());
  CHECK(log.after(3).next == 3);
}

TEST_CASE("the history keeps the newest events up to its capacity and says when it dropped some",
          "[agent][events]") {
  EventLog log(3);
  for (int i = 0; i < 5; ++i) log.publish(EventType::Rotated, "k", "v" + std::to_string(i), kTime);
  EventBatch batch = log.after(0);
  REQUIRE(batch.events.size() == 3);
  CHECK(batch.events.front().seq == 3);
  CHECK(batch.events.back().seq == 5);
  CHECK(batch.truncated);
  CHECK(!log.after(2).truncated);
  CHECK(log.after(2).events.size() == 3);
}

TEST_CASE("a long poll is woken by the next event", "[agent][events][concurrency]") {
  EventLog log;
  log.publish(EventType::Ready, "", "", kTime);
  const auto started = std::chrono::steady_clock::now();
  std::future<EventBatch> waiting =
      std::async(std::launch::async, [&] { return log.waitAfter(1, 30s); });
  log.publish(EventType::Rotated, "kek", "v2", kTime);
  EventBatch batch = waiting.get();
  // Woken, not timed out: well under the 30 s timeout.
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  REQUIRE(batch.events.size() == 1);
  CHECK(batch.events[0].key == "kek");
  CHECK(batch.next == 2);
}

TEST_CASE("a long poll without events returns empty at its timeout with next unchanged",
          "[agent][events]") {
  EventLog log;
  log.publish(EventType::Ready, "", "", kTime);
  EventBatch batch = log.waitAfter(1, 20ms);
  CHECK(batch.events.empty());
  CHECK(batch.next == 1);
}

TEST_CASE("a cursor beyond the log (agent restarted) gets every kept event at once",
          "[agent][events]") {
  EventLog log;
  log.publish(EventType::Released, "k", "v1", kTime);
  log.publish(EventType::Ready, "", "", kTime);
  EventBatch batch = log.waitAfter(500, 60s);
  REQUIRE(batch.events.size() == 2);
  CHECK(batch.events[0].seq == 1);
  CHECK(batch.next == 2);
  CHECK(batch.truncated);  // it cannot know what it missed
}

TEST_CASE(
    "numbered from the start time, a restarted agent's events are all above an old cursor, "
    "which gets them flagged truncated",
    "[agent][events]") {
  const SystemTime first_start = kTime;
  const SystemTime second_start = kTime + 2s;
  CHECK(firstSeqFromClock(first_start) == 1767225600000000u);
  // The first process published many events; its client keeps the last cursor.
  EventLog first(EventLog::kDefaultCapacity, firstSeqFromClock(first_start));
  uint64_t cursor = 0;
  for (int i = 0; i < 50; ++i) cursor = first.publish(EventType::Rotated, "k", "v", kTime);
  // The restarted process has fewer events than the old cursor had counted; none is skipped.
  EventLog second(EventLog::kDefaultCapacity, firstSeqFromClock(second_start));
  second.publish(EventType::Released, "k", "v9", kTime);
  second.publish(EventType::Ready, "", "", kTime);
  EventBatch batch = second.waitAfter(cursor, 60s);
  REQUIRE(batch.events.size() == 2);
  CHECK(batch.events[0].seq > cursor);
  CHECK(batch.events[0].type == EventType::Released);
  CHECK(batch.truncated);
  CHECK(batch.next == batch.events[1].seq);
  // A fresh client (after=0) gets the same events, not flagged.
  EventBatch fresh = second.after(0);
  CHECK(fresh.events.size() == 2);
  CHECK(!fresh.truncated);
  // A cursor from this process is not flagged either.
  CHECK(!second.after(batch.events[0].seq).truncated);
  CHECK(second.after(batch.events[0].seq).events.size() == 1);
}

TEST_CASE("close wakes every waiter at once", "[agent][events][concurrency]") {
  EventLog log;
  std::future<EventBatch> waiting =
      std::async(std::launch::async, [&] { return log.waitAfter(0, 60s); });
  log.close();
  REQUIRE(waiting.wait_for(10s) == std::future_status::ready);
  CHECK(waiting.get().events.empty());
  CHECK(log.waitAfter(0, 60s).events.empty());  // returns at once after close
}

TEST_CASE("the events JSON has seq, type, key, version and an RFC 3339 time", "[agent][events]") {
  EventLog log(1);
  log.publish(EventType::Released, "a", "v1", kTime);
  log.publish(EventType::Rotated, "a", "v2", kTime);
  const std::string text = eventBatchJson(log.after(0));
  CHECK(text == R"({"events":[{"seq":2,"type":"rotated","key":"a","version":"v2",)"
                R"("time":"2026-01-01T00:00:00Z"}],"next":2,"truncated":true})");
  CHECK(json::parseObject(text).ok());
}

}  // namespace
}  // namespace skr::agent
