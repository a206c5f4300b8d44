// Several processes, each with several coroutines on one client: the load of the "never more
// than N holders" tests. Each child is forked from the test, runs its tasks on an io_context
// and a dlock::Redis of its own, and exits 0 when every task ended without an exception (1: a
// task threw, 2: the child's setup threw); the parent waits for all of them and checks that.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "async.hpp"
#include "dlock/redis.hpp"

namespace dlock::test {

// `body(redis, task)` returns asio::awaitable<void>; `task` counts from 0 in each process.
template <class Body>
void run_forked_tasks(int processes, int tasks, const std::string& url, Body body) {
    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int status = 0;
            try {
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
            } catch (...) {
                status = 2;
            }
            std::_Exit(status);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
}

}  // namespace dlock::test
