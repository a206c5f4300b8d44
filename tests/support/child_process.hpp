// A child process with its stdout and stderr (and, if asked, its stdin) on pipes, waited for
// with a pidfd (an event, not a polling loop), killed by pid if the test ends first. For the
// CLI under test, redis-py peers, and scripts/redis-harness.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern char** environ;

namespace dlock::test {

using Env = std::vector<std::pair<std::string, std::string>>;

struct ChildOptions {
    Env env;                         // set in the child, over the current environment
    std::vector<std::string> unset;  // removed from the child's environment
    bool pipe_stdin = false;         // else stdin is /dev/null
};

struct Outcome {
    int status = -1;  // exit code, or 128 + signal number
    bool signaled = false;
    std::string out;
    std::string err;
};

class ChildProcess {
  public:
    // Starts `args` (args[0] searched in PATH).
    explicit ChildProcess(const std::vector<std::string>& args, const ChildOptions& options = {}) {
        int in[2] = {-1, -1}, out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
            (options.pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0))
            throw std::runtime_error("pipe2 failed");
        std::vector<std::string> environment;
        for (char** entry = environ; *entry != nullptr; ++entry) {
            const std::string variable(*entry);
            const std::string name = variable.substr(0, variable.find('='));
            bool dropped = false;
            for (const auto& [key, value] : options.env) dropped = dropped || key == name;
            for (const auto& key : options.unset) dropped = dropped || key == name;
            if (!dropped) environment.push_back(variable);
        }
        for (const auto& [key, value] : options.env) environment.push_back(key + "=" + value);
        std::vector<char*> argv, envp;
        for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        for (const auto& variable : environment)
            envp.push_back(const_cast<char*>(variable.c_str()));
        envp.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        if (options.pipe_stdin) {
            posix_spawn_file_actions_adddup2(&actions, in[0], 0);
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        }
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_adddup2(&actions, err[1], 2);
        const int rc = ::posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(err[1]);
        if (options.pipe_stdin) ::close(in[0]);
        in_fd_ = in[1];
        out_fd_ = out[0];
        err_fd_ = err[0];
        if (rc != 0) {
            pid_ = -1;
            close_fds();
            throw std::runtime_error("cannot start " + args.front());
        }
        ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
        ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
        pid_fd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
        if (pid_fd_ < 0) throw std::runtime_error("pidfd_open failed");
    }

    ~ChildProcess() {
        if (!reaped_ && pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        close_fds();
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int signal_number) const { ::kill(pid_, signal_number); }
    const std::string& out() const { return outcome_.out; }
    const std::string& err() const { return outcome_.err; }

    // With pipe_stdin: one line to its stdin; close_stdin() gives it EOF.
    void write_line(const std::string& line) {
        const std::string text = line + "\n";
        if (::write(in_fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
            throw std::runtime_error("write to the child's stdin failed; stderr: " + outcome_.err);
    }
    void close_stdin() {
        if (in_fd_ >= 0) ::close(in_fd_);
        in_fd_ = -1;
    }

    // Reads stdout until it holds `text`; false if the process exited or `timeout` passed first.
    bool wait_for_output(std::string_view text, std::chrono::milliseconds timeout) {
        return wait_for_output_from(0, text, timeout);
    }

    // The next line of stdout (after the last one read_line returned), without its newline;
    // throws if the process exits or `timeout` passes first.
    std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
        if (!wait_for_output_from(lines_read_, "\n", timeout)) {
            throw std::runtime_error("no line from the child; stdout: '" +
                                     outcome_.out.substr(lines_read_) + "', stderr: '" +
                                     outcome_.err + "'");
        }
        const auto eol = outcome_.out.find('\n', lines_read_);
        std::string line = outcome_.out.substr(lines_read_, eol - lines_read_);
        lines_read_ = eol + 1;
        return line;
    }

    // Waits for the exit; throws if it takes longer than `timeout` (the destructor kills it).
    Outcome wait(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!exited_) {
            if (!pump(deadline))
                throw std::runtime_error("the child did not exit in time; stderr: " + outcome_.err);
        }
        int status = 0;
        ::waitpid(pid_, &status, 0);
        reaped_ = true;
        drain();  // what is buffered; a grandchild may still hold the pipes open
        outcome_.signaled = WIFSIGNALED(status);
        outcome_.status = outcome_.signaled ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        return outcome_;
    }

  private:
    bool wait_for_output_from(std::size_t from, std::string_view text,
                              std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (outcome_.out.find(text, from) == std::string::npos) {
            if (exited_ || !pump(deadline))
                return outcome_.out.find(text, from) != std::string::npos;
        }
        return true;
    }

    // One poll() round: reads what is there, notes the exit. False once `deadline` passed.
    bool pump(std::chrono::steady_clock::time_point deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd fds[3] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {pid_fd_, POLLIN, 0}};
        ::poll(fds, 3, static_cast<int>(left.count()));
        drain();
        if (fds[2].revents & POLLIN) exited_ = true;
        return true;
    }

    void drain() {
        read_all(out_fd_, outcome_.out);
        read_all(err_fd_, outcome_.err);
    }

    static void read_all(int fd, std::string& into) {
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::read(fd, buffer, sizeof buffer);
            if (n <= 0) return;
            into.append(buffer, static_cast<std::size_t>(n));
        }
    }

    void close_fds() {
        for (int fd : {in_fd_, out_fd_, err_fd_, pid_fd_}) {
            if (fd >= 0) ::close(fd);
        }
        in_fd_ = out_fd_ = err_fd_ = pid_fd_ = -1;
    }

    pid_t pid_ = -1;
    int in_fd_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    int pid_fd_ = -1;
    bool exited_ = false;
    bool reaped_ = false;
    std::size_t lines_read_ = 0;
    Outcome outcome_;
};

// Runs `args` to completion (at most `timeout`).
inline Outcome run_process(const std::vector<std::string>& args, const ChildOptions& options = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    ChildProcess process(args, options);
    return process.wait(timeout);
}

}  // namespace dlock::test
