// Tiny "--key value" command-line reader shared by the chaos binaries (they are test tools:
// no CLI11 dependency, no help beyond the header comment of each binary).
#pragma once

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

namespace dlock::chaos {

class Args {
  public:
    Args(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            std::string key = argv[i];
            if (key.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument " + key);
            key = key.substr(2);
            // A flag followed by another flag (or nothing) is a boolean.
            if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
                values_[key] = argv[++i];
            } else {
                values_[key] = "1";
            }
        }
    }
    std::string str(const std::string& key, const std::string& fallback = "") const {
        auto it = values_.find(key);
        return it == values_.end() ? fallback : it->second;
    }
    long num(const std::string& key, long fallback) const {
        auto it = values_.find(key);
        return it == values_.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
    }
    bool flag(const std::string& key) const { return values_.count(key) != 0; }

  private:
    std::map<std::string, std::string> values_;
};

}  // namespace dlock::chaos
