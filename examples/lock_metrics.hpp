// lock_metrics.hpp: a dlock::Observer that aggregates lock events into Prometheus counters and
// histograms, rendered in the text exposition format. Used by metrics_exporter.cpp and by the
// benchmarks (bench/, to measure what it costs). Built on dlock's public API only.
//
// Labels stay bounded: the first `max_locks` lock names get their own series, every later
// name counts under lock="other". Events are counted with relaxed atomics and no allocation
// (only the first event of a new name takes a mutex and copies the name), so the observer can
// run on the I/O thread while another thread renders /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <dlock/observer.hpp>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>

namespace lock_metrics {

// Upper bounds of the wait and hold histograms, in seconds.
inline constexpr std::array<double, 12> bucket_bounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5};

class Histogram {
  public:
    void observe(dlock::Seconds value) noexcept {
        std::size_t i = 0;
        while (i < bucket_bounds.size() && value.count() > bucket_bounds[i]) ++i;
        buckets_[i].fetch_add(1, std::memory_order_relaxed);  // non-cumulative here
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(value).count();
        sum_ns_.fetch_add(static_cast<std::uint64_t>(ns > 0 ? ns : 0), std::memory_order_relaxed);
    }
    // `name{labels,le="..."}` lines (cumulative, as Prometheus wants), then _sum and _count.
    void render(std::ostream& out, std::string_view name, const std::string& labels) const {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i <= bucket_bounds.size(); ++i) {
            cumulative += buckets_[i].load(std::memory_order_relaxed);
            out << name << "_bucket{" << labels << ",le=\"";
            if (i < bucket_bounds.size())
                out << bucket_bounds[i];
            else
                out << "+Inf";
            out << "\"} " << cumulative << '\n';
        }
        out << name << "_sum{" << labels << "} "
            << static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9 << '\n';
        out << name << "_count{" << labels << "} " << cumulative << '\n';
    }

  private:
    std::array<std::atomic<std::uint64_t>, bucket_bounds.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_ns_{0};
};

using Counter = std::atomic<std::uint64_t>;

// How many values each reason enum has: its last enumerator + 1. A reason dlock adds after it
// needs this updated (until then .at() throws, which the library counts, rather than writing
// past the end).
inline constexpr std::size_t not_acquired_reasons =
    static_cast<std::size_t>(dlock::NotAcquiredReason::abandoned) + 1;
inline constexpr std::size_t lost_reasons =
    static_cast<std::size_t>(dlock::LostReason::failover_found_gone) + 1;

// Every series of one lock name.
struct LockSeries {
    std::string name;
    Counter acquired{0}, acquired_woken{0}, attempts{0};
    std::array<Counter, not_acquired_reasons> not_acquired{};  // by dlock::NotAcquiredReason
    Counter released{0};
    std::array<Counter, lost_reasons> lost{};  // by dlock::LostReason
    Counter renewed{0}, extended{0}, shortfalls{0}, wakeups_passed_on{0};
    Histogram wait, hold;
};

class LockMetrics : public dlock::Observer {
  public:
    static constexpr std::size_t max_locks = 32;

    LockMetrics() { other_.name = "other"; }

    void on_acquired(const dlock::Acquired& e) override {
        LockSeries& s = series(e.lock_name);
        add(s.acquired);
        if (e.woken) add(s.acquired_woken);
        add(s.attempts, e.attempts);
        s.wait.observe(e.waited);
    }
    void on_not_acquired(const dlock::NotAcquired& e) override {
        LockSeries& s = series(e.lock_name);
        add(s.not_acquired.at(static_cast<std::size_t>(e.reason)));
        add(s.attempts, e.attempts);
    }
    void on_released(const dlock::Released& e) override {
        LockSeries& s = series(e.lock_name);
        add(s.released);
        s.hold.observe(e.held);
    }
    void on_extended(const dlock::Extended& e) override {
        add(e.renewal ? series(e.lock_name).renewed : series(e.lock_name).extended);
    }
    void on_lost(const dlock::Lost& e) override {
        LockSeries& s = series(e.lock_name);
        add(s.lost.at(static_cast<std::size_t>(e.reason)));
        s.hold.observe(e.held);
    }
    void on_shortfall(const dlock::Shortfall& e) override { add(series(e.lock_name).shortfalls); }
    void on_wakeup_passed_on(const dlock::WakeupPassedOn& e) override {
        add(series(e.lock_name).wakeups_passed_on);
    }

    // Acquisitions counted so far, over every lock name.
    std::uint64_t total_acquired() const {
        std::uint64_t total = 0;
        for_each([&](const LockSeries& s) { total += s.acquired.load(); });
        return total;
    }

    // The Prometheus text exposition format (version 0.0.4).
    std::string render() const {
        std::ostringstream out;
        counter(out, "dlock_acquired_total", "Acquisitions (acquire() returned true).",
                &LockSeries::acquired);
        counter(out, "dlock_acquired_woken_total",
                "Acquisitions whose last wait ended with a release notification (not a poll).",
                &LockSeries::acquired_woken);
        counter(out, "dlock_acquire_attempts_total",
                "Server attempts made by acquire() calls (acquired or not).",
                &LockSeries::attempts);
        by_reason<dlock::NotAcquiredReason>(out, "dlock_not_acquired_total",
                                            "acquire() calls that did not get the lock, by reason.",
                                            &LockSeries::not_acquired);
        counter(out, "dlock_released_total", "Releases.", &LockSeries::released);
        by_reason<dlock::LostReason>(out, "dlock_lost_total", "Holds that ended lost, by reason.",
                                     &LockSeries::lost);
        counter(out, "dlock_renewals_total", "Auto-renewals that extended a held lock.",
                &LockSeries::renewed);
        counter(out, "dlock_extends_total", "Explicit extend()/reacquire() calls that succeeded.",
                &LockSeries::extended);
        counter(out, "dlock_replication_shortfalls_total",
                "Acquisitions rolled back because too few replicas confirmed them.",
                &LockSeries::shortfalls);
        counter(out, "dlock_wakeups_passed_on_total",
                "Release notifications this process could not use and handed on.",
                &LockSeries::wakeups_passed_on);
        header(out, "dlock_wait_seconds", "histogram",
               "Time from the acquire() call to the lock being taken.");
        for_each([&](const LockSeries& s) { s.wait.render(out, "dlock_wait_seconds", labels(s)); });
        header(out, "dlock_hold_seconds", "histogram",
               "Time from the acquisition to its release (or to noticing its loss).");
        for_each([&](const LockSeries& s) { s.hold.render(out, "dlock_hold_seconds", labels(s)); });
        header(out, "dlock_observer_exceptions_total", "counter",
               "Events on which this observer threw (the lock operation went on).");
        out << "dlock_observer_exceptions_total " << exceptions_caught() << '\n';
        return out.str();
    }

  private:
    static void add(Counter& counter, std::uint64_t n = 1) noexcept {
        counter.fetch_add(n, std::memory_order_relaxed);
    }

    // The series of `name`: found without a lock or allocation once the name is known.
    LockSeries& series(std::string_view name) {
        const std::size_t known = count_.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < known; ++i)
            if (slots_[i]->name == name) return *slots_[i];
        const std::lock_guard guard(mutex_);
        const std::size_t now = count_.load(std::memory_order_relaxed);
        for (std::size_t i = known; i < now; ++i)
            if (slots_[i]->name == name) return *slots_[i];
        if (now == max_locks) return other_;
        slots_[now] = std::make_unique<LockSeries>();
        slots_[now]->name = std::string(name);
        count_.store(now + 1, std::memory_order_release);
        return *slots_[now];
    }

    template <class F>
    void for_each(F f) const {
        const std::size_t known = count_.load(std::memory_order_acquire);
        for (std::size_t i = 0; i < known; ++i) f(*slots_[i]);
        if (known == max_locks) f(other_);
    }

    // lock="name", with the escapes of the exposition format.
    static std::string labels(const LockSeries& s) {
        std::string out = "lock=\"";
        for (char c : s.name) {
            if (c == '\\' || c == '"') out += '\\';
            if (c == '\n') {
                out += "\\n";
                continue;
            }
            out += c;
        }
        return out + "\"";
    }
    static void header(std::ostream& out, std::string_view name, std::string_view type,
                       std::string_view help) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    }
    // One series per lock name: name{lock="..."}.
    void counter(std::ostream& out, std::string_view name, std::string_view help,
                 Counter LockSeries::*count) const {
        header(out, name, "counter", help);
        for_each([&](const LockSeries& s) {
            out << name << '{' << labels(s) << "} " << (s.*count).load() << '\n';
        });
    }

    // One series per lock name and reason: name{lock="...",reason="..."}.
    template <class Reason, std::size_t N>
    void by_reason(std::ostream& out, std::string_view name, std::string_view help,
                   std::array<Counter, N> LockSeries::*counts) const {
        header(out, name, "counter", help);
        for (std::size_t r = 0; r < N; ++r) {
            const std::string_view reason = dlock::to_string(static_cast<Reason>(r));
            for_each([&](const LockSeries& s) {
                out << name << '{' << labels(s) << ",reason=\"" << reason << "\"} "
                    << (s.*counts)[r].load() << '\n';
            });
        }
    }

    std::array<std::unique_ptr<LockSeries>, max_locks> slots_{};
    std::atomic<std::size_t> count_{0};
    std::mutex mutex_;
    LockSeries other_;
};

}  // namespace lock_metrics
