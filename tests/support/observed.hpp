// Observers for tests (dlock/observer.hpp): Recorder keeps every event, Thrower throws from
// every event.
#pragma once

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dlock/observer.hpp"
#include "dlock/redis.hpp"
#include "names.hpp"
#include "servers.hpp"

namespace dlock::test {

// Keeps every event, with its lock name copied (the event's view lives only during the call).
struct Recorder : dlock::Observer {
    struct Entry {
        std::string kind;
        std::string name;
        dlock::Seconds time{};  // waited or held
        std::uint32_t attempts = 0;
        bool flag = false;  // woken / renewal
        std::string reason;
    };
    std::vector<Entry> events;

    // Every event's kind, in order.
    std::vector<std::string> kinds() const {
        std::vector<std::string> out;
        for (const Entry& e : events) out.push_back(e.kind);
        return out;
    }
    // Whether every event was one of the lock `name`.
    bool all_of(const std::string& name) const {
        for (const Entry& e : events)
            if (e.name != name) return false;
        return true;
    }
    // The reasons of the events of `kind`, in order.
    std::vector<std::string> reasons(const std::string& kind) const {
        std::vector<std::string> out;
        for (const Entry& e : events)
            if (e.kind == kind) out.push_back(e.reason);
        return out;
    }
    std::vector<Entry> of(const std::string& kind) const {
        std::vector<Entry> out;
        for (const Entry& e : events)
            if (e.kind == kind) out.push_back(e);
        return out;
    }
    void on_acquired(const dlock::Acquired& e) override {
        events.push_back({"acquired", std::string(e.lock_name), e.waited, e.attempts, e.woken, ""});
    }
    void on_not_acquired(const dlock::NotAcquired& e) override {
        events.push_back({"not_acquired", std::string(e.lock_name), e.waited, e.attempts, false,
                          std::string(to_string(e.reason))});
    }
    void on_released(const dlock::Released& e) override {
        events.push_back({"released", std::string(e.lock_name), e.held, 0, false, ""});
    }
    void on_extended(const dlock::Extended& e) override {
        events.push_back({"extended", std::string(e.lock_name), {}, 0, e.renewal, ""});
    }
    void on_lost(const dlock::Lost& e) override {
        events.push_back(
            {"lost", std::string(e.lock_name), e.held, 0, false, std::string(to_string(e.reason))});
    }
    void on_shortfall(const dlock::Shortfall& e) override {
        events.push_back({"shortfall", std::string(e.lock_name), {}, 0, false, ""});
    }
    void on_wakeup_passed_on(const dlock::WakeupPassedOn& e) override {
        events.push_back({"wakeup_passed_on", std::string(e.lock_name), {}, 0, false, ""});
    }
};

// The two refusals the Lock and the Semaphore tests provoke first, in `failed` (the
// not_acquired events): a non-blocking attempt that found the lock held (one attempt), then a
// wait that timed out after at least 200 ms.
inline void expect_held_then_timed_out(const std::vector<Recorder::Entry>& failed) {
    ASSERT_GE(failed.size(), 2u);
    EXPECT_EQ(failed[0].reason, "held");
    EXPECT_EQ(failed[0].attempts, 1u);
    EXPECT_EQ(failed[1].reason, "timed_out");
    EXPECT_GE(failed[1].time, std::chrono::milliseconds(200));
}

// Throws from every event.
struct Thrower : dlock::Observer {
    void on_acquired(const dlock::Acquired&) override { throw std::runtime_error("acquired"); }
    void on_not_acquired(const dlock::NotAcquired&) override { throw 42; }
    void on_released(const dlock::Released&) override { throw std::runtime_error("released"); }
    void on_extended(const dlock::Extended&) override { throw std::runtime_error("extended"); }
    void on_lost(const dlock::Lost&) override { throw std::runtime_error("lost"); }
};

// A fixture for observer tests on the harness's shared plain server: `redis`, a name of the
// test's own and a recorder for the events.
class ObservedTest : public ::testing::Test {
  protected:
    asio::io_context io;
    dlock::Redis redis{io.get_executor(), server("PLAIN_URL")};
    const std::string name = unique_name();
    std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();
};

}  // namespace dlock::test
