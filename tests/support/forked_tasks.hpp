// Several processes, each with several coroutines on one client: the load of the "never more
// than N holders" tests. Each child is forked from the test, runs its tasks on an io_context
// and a dlock::Redis of its own, and exits 0 when every task ended without an exception (1: a
// task threw, 2: the child's setup threw); the parent waits for all of them and checks that.
// fork_child and wait_child are the fork-a-child-running-a-function helper these are built on.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "async.hpp"
#include "dlock/redis.hpp"

namespace dlock::test {

// Forks a child process that runs `body()` and exits with what it returns (2 when it throws),
// through std::_Exit: nothing of the parent's state (atexit handlers, stdio buffers) runs
// twice. Returns the child's pid; throws std::runtime_error when fork fails.
template <class Body>
pid_t fork_child(Body body) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int status = 2;
        try {
            status = body();
        } catch (...) {
        }
        std::_Exit(status);
    }
    return pid;
}

// Waits for child `pid` to end: its exit status, or -1 when it did not exit (a signal).
inline int wait_child(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `body(redis, task)` returns asio::awaitable<void>; `task` counts from 0 in each process.
template <class Body>
void run_forked_tasks(int processes, int tasks, const std::string& url, Body body) {
    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) {
        children.push_back(fork_child([&] {
            int status = 0;
            asio::io_context io;
            dlock::Redis redis(io.get_executor(), url);
            run(io, [&]() -> asio::awaitable<void> {
                Notification done(io.get_executor(), tasks);
                for (int t = 0; t < tasks; ++t) {
                    asio::co_spawn(io, body(redis, t), [&](std::exception_ptr error) {
                        if (error) status = 1;
                        done.notify();
                    });
                }
                co_await done.wait();
            });
            return status;
        }));
    }
    for (pid_t pid : children) EXPECT_EQ(wait_child(pid), 0) << "child " << pid;
}

}  // namespace dlock::test
