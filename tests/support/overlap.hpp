// How many holders overlap, counted by the holders themselves in memory shared across forked
// processes: a holder counts itself in after acquire() returned and out before release(), so
// the count never exceeds what the server admitted and any over-admission shows.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <stdexcept>

namespace dlock::test {

struct OverlapCounters {
    std::atomic<int> current{0};
    std::atomic<int> most{0};
    std::atomic<int> writers{0};    // read/write tests: writers inside
    std::atomic<int> conflicts{0};  // a writer saw anyone else inside, or a reader saw a writer
    std::atomic<long> entries{0};

    void enter() {
        const int now = ++current;
        ++entries;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
    }
    void leave() { --current; }
};

// Counters in an anonymous shared mapping, seen by every process forked after it was made.
class SharedOverlap {
  public:
    SharedOverlap() {
        void* memory = ::mmap(nullptr, sizeof(OverlapCounters), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
        counters_ = new (memory) OverlapCounters();
    }
    ~SharedOverlap() { ::munmap(counters_, sizeof(OverlapCounters)); }
    SharedOverlap(const SharedOverlap&) = delete;
    SharedOverlap& operator=(const SharedOverlap&) = delete;
    OverlapCounters& operator*() const { return *counters_; }
    OverlapCounters* operator->() const { return counters_; }

  private:
    OverlapCounters* counters_;
};

}  // namespace dlock::test
