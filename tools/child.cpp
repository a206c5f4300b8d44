#include "child.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>

extern char** environ;

namespace dlock::cli {

namespace {

std::set<int>& inherited_fds() {
    static std::set<int> fds;
    return fds;
}

std::set<int> open_fds() {
    std::set<int> fds;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return fds;
    const int own = ::dirfd(dir);
    while (const dirent* entry = ::readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end != entry->d_name && *end == '\0' && fd != own) fds.insert(static_cast<int>(fd));
    }
    ::closedir(dir);
    return fds;
}

void close_own_fds_on_exec() {
    for (const int fd : open_fds()) {
        if (fd > 2 && inherited_fds().count(fd) == 0) {
            const int flags = ::fcntl(fd, F_GETFD);
            if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
    }
}

}  // namespace

void remember_inherited_fds() {
    inherited_fds() = open_fds();
}

pid_t spawn_child(const std::vector<std::string>& argv,
                  const std::vector<std::pair<std::string, std::string>>& env,
                  const std::vector<std::string>& unset) {
    close_own_fds_on_exec();

    std::vector<std::string> environment;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string variable(*entry);
        const std::string name = variable.substr(0, variable.find('='));
        bool overridden = false;
        for (const auto& [key, value] : env) overridden = overridden || key == name;
        for (const auto& key : unset) overridden = overridden || key == name;
        if (!overridden) environment.push_back(variable);
    }
    for (const auto& [key, value] : env)
        environment.push_back(std::string(key).append("=").append(value));

    std::vector<char*> argv_pointers, env_pointers;
    for (const std::string& arg : argv) argv_pointers.push_back(const_cast<char*>(arg.c_str()));
    argv_pointers.push_back(nullptr);
    for (const std::string& variable : environment)
        env_pointers.push_back(const_cast<char*>(variable.c_str()));
    env_pointers.push_back(nullptr);

    // The child starts with no signal blocked, whatever dlock's own mask is. Signals dlock
    // catches go back to their default at exec; signals dlock's caller ignored stay ignored,
    // as with any shell-started command.
    posix_spawnattr_t attributes;
    ::posix_spawnattr_init(&attributes);
    sigset_t none;
    ::sigemptyset(&none);
    ::posix_spawnattr_setsigmask(&attributes, &none);
    ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    // glibc's posix_spawnp reports exec failures (ENOENT, EACCES) as its result.
    const int error = ::posix_spawnp(&pid, argv_pointers[0], nullptr, &attributes,
                                     argv_pointers.data(), env_pointers.data());
    ::posix_spawnattr_destroy(&attributes);
    return error == 0 ? pid : -error;
}

int exit_status_of(int wait_status) {
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return WEXITSTATUS(wait_status);
}

std::string describe_command(const std::vector<std::string>& argv) {
    constexpr std::size_t limit = 60;
    std::string line;
    for (const std::string& arg : argv) {
        if (!line.empty()) line += ' ';
        line += arg;
    }
    if (line.size() > limit) line = line.substr(0, limit - 3) + "...";
    return line;
}

}  // namespace dlock::cli
