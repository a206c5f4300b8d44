#include "redlock/validity.hpp"

namespace dlock::detail {

Seconds drift(Seconds ttl, double drift_factor) {
    return ttl * drift_factor + drift_floor;
}

std::optional<Seconds> acquire_validity(std::chrono::milliseconds ttl, const Round& round,
                                        double drift_factor) {
    const auto elapsed = round.now - round.start;
    const Seconds validity = Seconds(ttl) - elapsed - drift(Seconds(ttl), drift_factor);
    if (round.successes >= round.quorum && validity > Seconds(0)) return validity;
    return std::nullopt;
}

std::optional<Seconds> extend_validity(ExtendMode mode, std::chrono::milliseconds additional,
                                       Seconds held, Clock::time_point held_since,
                                       const Round& round, double drift_factor) {
    const auto elapsed = round.now - round.start;
    const Seconds base =
        mode == ExtendMode::add ? Seconds(held - (round.start - held_since)) : Seconds(0);
    const Seconds validity = base + Seconds(additional) - elapsed -
                             (mode == ExtendMode::add ? Seconds(additional) * drift_factor
                                                      : drift(Seconds(additional), drift_factor));
    if (round.successes < round.quorum || validity <= Seconds(0)) return std::nullopt;
    return validity;
}

}  // namespace dlock::detail
