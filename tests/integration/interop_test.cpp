// Wire compatibility with redis-py (docs/semantics.md §2): the same key layout (key = name,
// value = token, SET NX PX, token-checked scripts), so a lock held by either library excludes the
// other, and neither can release or extend the other's lock. redis-py runs in a child process
// (/usr/bin/python3 with Debian's python3-redis) driven by interop_redis_py.py.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include "async.hpp"
#include "child_process.hpp"
#include "dlock/sync.hpp"
#include "names.hpp"
#include "protocol/hex.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dlock::test;
using SyncLock = dlock::sync::Lock;

// One redis-py Lock in a python process: request() sends a line and returns the reply line.
class PyLock {
  public:
    PyLock(const std::string& url, const std::string& name, const std::string& timeout = "-")
        : process_(
              {"/usr/bin/python3",
               (std::filesystem::path(__FILE__).parent_path() / "interop_redis_py.py").string(),
               url, dlock::detail::to_hex(name), timeout},
              {.env = {}, .unset = {}, .pipe_stdin = true}) {
        if (const std::string ready = read_line(); ready != "ready") {
            throw std::runtime_error("interop_redis_py.py did not start: '" + ready + "'");
        }
    }
    ~PyLock() {
        process_.close_stdin();  // EOF on stdin ends the script
        try {
            process_.wait(5s);
        } catch (const std::exception&) {  // the ChildProcess destructor kills it
        }
    }
    PyLock(const PyLock&) = delete;
    PyLock& operator=(const PyLock&) = delete;

    void send(const std::string& line) { process_.write_line(line); }
    // The next reply line; throws after 15 s without one.
    std::string read_line() { return process_.read_line(15s); }
    std::string request(const std::string& line) {
        send(line);
        return read_line();
    }

    bool acquire(bool blocking = false, const std::string& blocking_timeout = "-") {
        const std::string reply =
            request(std::string("acquire ") + (blocking ? "1 " : "0 ") + blocking_timeout);
        if (reply != "true" && reply != "false") throw std::runtime_error("acquire: " + reply);
        return reply == "true";
    }
    std::string token() { return request("token"); }

  private:
    dlock::test::ChildProcess process_;
};

class InteropTest : public ::testing::Test {
  protected:
    void TearDown() override { redis_.command({"DEL", name_}); }
    std::optional<std::string> get() {
        dlock::Reply reply = redis_.command({"GET", name_});
        if (reply.is_nil()) return std::nullopt;
        return reply.str;
    }
    // Polls until the key expired; false after 5 s.
    bool wait_gone() {
        for (Stopwatch watch; watch.elapsed() < 5s; std::this_thread::sleep_for(10ms)) {
            if (redis_.command({"EXISTS", name_}).integer == 0) return true;
        }
        return false;
    }

    const std::string url_ = dlock::test::server("PLAIN_URL");
    dlock::sync::Redis redis_{url_};
    // Bytes that need care on the way: a space, a quote, a newline.
    const std::string name_ = dlock::test::unique_name(" 'interop'\n");
};

TEST_F(InteropTest, ALockHeldByRedisPyExcludesDlock) {
    PyLock python(url_, name_, "10");
    ASSERT_TRUE(python.acquire());
    const std::string token = python.token();
    EXPECT_EQ(get(), token);
    EXPECT_GT(redis_.command({"PTTL", name_}).integer, 8000);

    SyncLock lock(redis_, name_, {.sleep = 0.05s});
    EXPECT_FALSE(lock.try_lock());
    Stopwatch watch;
    EXPECT_FALSE(lock.try_lock_for(300ms));
    EXPECT_GE(watch.seconds(), 0.3);
    EXPECT_TRUE(lock.locked());
    EXPECT_FALSE(lock.owned());
    EXPECT_THROW(lock.release(), dlock::LockReleaseError);
    EXPECT_EQ(get(), token);  // untouched by all of that

    EXPECT_EQ(python.request("release"), "ok");
    EXPECT_TRUE(lock.try_lock());
    lock.unlock();
}

TEST_F(InteropTest, ALockHeldByDlockExcludesRedisPy) {
    SyncLock lock(redis_, name_, {.timeout = 10s});
    lock.lock();
    PyLock python(url_, name_, "10");
    EXPECT_FALSE(python.acquire());
    EXPECT_FALSE(python.acquire(true, "0.3"));  // (redis-py gives up one `sleep` early)
    EXPECT_EQ(python.request("locked"), "true");
    EXPECT_EQ(python.request("owned"), "false");
    EXPECT_EQ(python.request("release"), "error LockError");  // redis-py: "unlocked lock"
    EXPECT_EQ(get(), lock.token());

    lock.unlock();
    EXPECT_FALSE(lock.last_unlock_error());
    EXPECT_TRUE(python.acquire());
    EXPECT_EQ(python.request("release"), "ok");
}

TEST_F(InteropTest, DlockCannotReleaseOrExtendALockThatRedisPyTookOver) {
    SyncLock lock(redis_, name_, {.timeout = 0.2s, .sleep = 0.05s});
    lock.lock();
    ASSERT_TRUE(wait_gone());  // expired while "held" by dlock
    PyLock python(url_, name_, "10");
    ASSERT_TRUE(python.acquire());
    const std::string token = python.token();
    EXPECT_THROW(lock.extend(10s), dlock::LockExtensionError);
    EXPECT_THROW(lock.release(), dlock::LockReleaseError);
    EXPECT_EQ(get(), token);
    EXPECT_EQ(python.request("owned"), "true");
    EXPECT_EQ(python.request("release"), "ok");
}

TEST_F(InteropTest, RedisPyCannotReleaseOrExtendALockThatDlockTookOver) {
    PyLock python(url_, name_, "0.2");
    ASSERT_TRUE(python.acquire());
    ASSERT_TRUE(wait_gone());  // expired while "held" by redis-py
    SyncLock lock(redis_, name_, {.timeout = 10s});
    lock.lock();
    EXPECT_EQ(python.request("extend 10"), "error LockNotOwnedError");
    EXPECT_EQ(python.request("release"), "error LockNotOwnedError");
    EXPECT_EQ(get(), lock.token());
    EXPECT_LE(redis_.command({"PTTL", name_}).integer, 10000);
    EXPECT_TRUE(lock.owned());
    lock.unlock();
    EXPECT_FALSE(lock.last_unlock_error());
}

// redis-py publishes nothing on release: a dlock waiter finds the lock free by its `sleep`
// poll (the fallback that wake_on_release keeps for exactly this).
TEST_F(InteropTest, ADlockWaiterTakesTheLockWhenRedisPyReleasesIt) {
    PyLock python(url_, name_);
    ASSERT_TRUE(python.acquire());
    SyncLock lock(redis_, name_, {.sleep = 0.05s});
    std::thread releaser([&] {
        std::this_thread::sleep_for(200ms);  // makes it likely the waiter is blocked by then
        EXPECT_EQ(python.request("release"), "ok");
    });
    Stopwatch watch;
    EXPECT_TRUE(lock.try_lock_for(10s));
    EXPECT_LT(watch.seconds(), 3.0);
    releaser.join();
    EXPECT_EQ(get(), lock.token());
    lock.unlock();
}

TEST_F(InteropTest, ARedisPyWaiterTakesTheLockWhenDlockReleasesIt) {
    SyncLock lock(redis_, name_);
    lock.lock();
    PyLock python(url_, name_);
    python.send("acquire 1 10");  // blocks in python until we release
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(lock.owned());  // still ours: the waiter did not break in
    lock.unlock();
    Stopwatch watch;
    EXPECT_EQ(python.read_line(), "true");
    EXPECT_LT(watch.seconds(), 3.0);
    EXPECT_EQ(get(), python.token());
    EXPECT_EQ(python.request("release"), "ok");
}

}  // namespace
