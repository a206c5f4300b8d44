// The cluster router's decisions without a server: redirections, transient errors and their
// back-off, routing keys, ASKING, and next_step, the redirect/retry policy that
// ClusterState::execute (src/client/redis_cluster.cpp) follows after every attempt.
#include "client/cluster_routing.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "replies.hpp"

using namespace dlock;
using namespace dlock::detail;
using namespace dlock::replies;
using namespace std::chrono_literals;
using Action = Step::Action;

namespace {

// A fixed "now": next_step reads no clock.
const Clock::time_point t0 = Clock::time_point{} + 1000s;

// An attempt 1 s before its deadline, nothing followed or retried yet.
Progress fresh() {
    return Progress{.redirects = 0,
                    .max_redirects = 16,
                    .retries = 0,
                    .now = t0,
                    .deadline = t0 + 1s,
                    .closed = false};
}

Step after(Failure failure, const Progress& progress = fresh()) {
    return next_step(failure, {}, "here", progress);
}

Step after(const std::vector<Reply>& replies, const Progress& progress = fresh()) {
    return next_step(Failure::none, replies, "here", progress);
}

}  // namespace

TEST(ClusterRouting, ParsesRedirections) {
    auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", "here");
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->kind, Redirect::Kind::moved);
    EXPECT_EQ(moved->slot, 3999);
    EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 6381}));
    auto ask = parse_redirect("ASK 16383 :6382", "here");
    ASSERT_TRUE(ask);
    EXPECT_EQ(ask->kind, Redirect::Kind::ask);
    EXPECT_EQ(ask->node, (NodeAddress{"here", 6382}));
    EXPECT_FALSE(parse_redirect("MOVED 16384 h:1", "x"));
    EXPECT_FALSE(parse_redirect("MOVED x h:1", "x"));
    EXPECT_FALSE(parse_redirect("MOVEDX 1 h:1", "x"));
    EXPECT_FALSE(parse_redirect("ASKING 1 h:1", "x"));
    EXPECT_FALSE(parse_redirect("ERR wrong", "x"));

    // Any reply of a request may carry the redirection.
    const std::vector<Reply> replies{bulk("v"), error("MOVED 7 10.0.0.9:7000")};
    auto found = find_redirect(replies, "here");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->node.host, "10.0.0.9");
    EXPECT_FALSE(find_redirect({bulk("MOVED 7 h:1"), error("ERR x")}, "here"));
}

TEST(ClusterRouting, RetriesOnlyTransientErrors) {
    EXPECT_TRUE(
        should_retry_later({error("TRYAGAIN Multiple keys request during rehashing of slot")}));
    EXPECT_TRUE(should_retry_later({bulk("ok"), error("CLUSTERDOWN The cluster is down")}));
    EXPECT_TRUE(should_retry_later({error("LOADING Redis is loading the dataset in memory")}));
    EXPECT_FALSE(
        should_retry_later({error("CROSSSLOT Keys in request don't hash to the same slot")}));
    EXPECT_FALSE(should_retry_later({error("ERR unknown command")}));
    EXPECT_EQ(retry_backoff(0).count(), 10);
    EXPECT_EQ(retry_backoff(1).count(), 20);
    EXPECT_EQ(retry_backoff(4).count(), 160);
    EXPECT_EQ(retry_backoff(5).count(), 200);
    EXPECT_EQ(retry_backoff(1000).count(), 200);
}

TEST(ClusterRouting, FindsTheKeyArgument) {
    using Args = std::vector<std::string_view>;
    auto index = [](Args args) { return routing_key_index(args); };
    EXPECT_EQ(index({"GET", "k"}), 1u);
    EXPECT_EQ(index({"set", "k", "v"}), 1u);
    EXPECT_EQ(index({"SPUBLISH", "chan", "m"}), 1u);
    EXPECT_EQ(index({"EVALSHA", "abc", "2", "k1", "k2", "a"}), 3u);
    EXPECT_EQ(index({"eval", "return 1", "0"}), std::nullopt);
    EXPECT_EQ(index({"FCALL", "f", "0", "arg"}), std::nullopt);
    EXPECT_EQ(index({"EVAL", "s", "x", "k"}), std::nullopt);
    EXPECT_EQ(index({"PING"}), std::nullopt);
    EXPECT_EQ(index({"INFO", "commandstats"}), std::nullopt);
    EXPECT_EQ(index({"cluster", "info"}), std::nullopt);
    EXPECT_EQ(index({"PUBLISH", "chan", "m"}), std::nullopt);
}

TEST(ClusterRouting, AskingPrecedesEveryCommand) {
    Request request;
    request.push({"SET", std::string_view("k\0\r\n", 4), "v"});
    request.push({"GET", "k"});
    const Request asked = with_asking(request);
    ASSERT_EQ(asked.size(), 4u);
    Request expected;
    expected.push({"ASKING"});
    expected.push({"SET", std::string_view("k\0\r\n", 4), "v"});
    expected.push({"ASKING"});
    expected.push({"GET", "k"});
    EXPECT_EQ(asked.payload(), expected.payload());

    const auto replies = without_asking({bulk("OK"), bulk("a"), bulk("OK"), bulk("b")});
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(replies[0].str, "a");
    EXPECT_EQ(replies[1].str, "b");
}

// ---- next_step: one test per branch of the policy --------------------------------------------

TEST(ClusterNextStep, AnswersAreDone) {
    EXPECT_EQ(after({bulk("v")}).action, Action::done);
    EXPECT_EQ(after({bulk("v"), integer(1)}).action, Action::done);
    // An error that is neither a redirection nor transient is the answer, returned as is.
    EXPECT_EQ(after({error("ERR unknown command")}).action, Action::done);
    EXPECT_EQ(after({error("CROSSSLOT Keys in request don't hash to the same slot")}).action,
              Action::done);
    // A closed client or a past deadline does not turn answers into a failure.
    Progress late = fresh();
    late.now = late.deadline + 1s;
    late.closed = true;
    EXPECT_EQ(after({bulk("v")}, late).action, Action::done);
}

TEST(ClusterNextStep, MovedIsFollowedWithItsSlotAndNode) {
    const Step step = after({error("MOVED 3999 10.0.0.9:7001")});
    EXPECT_EQ(step.action, Action::follow_moved);
    ASSERT_TRUE(step.redirect);
    EXPECT_EQ(step.redirect->slot, 3999);
    EXPECT_EQ(step.redirect->node, (NodeAddress{"10.0.0.9", 7001}));
    // An empty host is the host that was asked.
    const Step here = after({error("MOVED 1 :7002")});
    ASSERT_TRUE(here.redirect);
    EXPECT_EQ(here.redirect->node, (NodeAddress{"here", 7002}));
}

TEST(ClusterNextStep, AskIsFollowedWithoutTouchingTheMap) {
    const Step step = after({error("ASK 3999 10.0.0.9:7001")});
    EXPECT_EQ(step.action, Action::follow_ask);
    ASSERT_TRUE(step.redirect);
    EXPECT_EQ(step.redirect->kind, Redirect::Kind::ask);
    EXPECT_EQ(step.redirect->node, (NodeAddress{"10.0.0.9", 7001}));
}

TEST(ClusterNextStep, AnyReplyMayRedirectAndTheFirstRedirectionWins) {
    const Step step = after({bulk("OK"), error("ASK 1 10.0.0.1:1"), error("MOVED 2 10.0.0.2:2")});
    EXPECT_EQ(step.action, Action::follow_ask);
    EXPECT_EQ(step.redirect->node, (NodeAddress{"10.0.0.1", 1}));
}

TEST(ClusterNextStep, RedirectionsAreFollowedUpToMaxRedirectsThenReturnedAsIs) {
    Progress progress = fresh();
    progress.max_redirects = 3;
    progress.redirects = 2;
    EXPECT_EQ(after({error("MOVED 1 h:1")}, progress).action, Action::follow_moved);
    progress.redirects = 3;
    const Step step = after({error("MOVED 1 h:1")}, progress);
    EXPECT_EQ(step.action, Action::done);
    EXPECT_FALSE(step.redirect);
    EXPECT_EQ(after({error("ASK 1 h:1")}, progress).action, Action::done);
    // max_redirects = 0: not even the first one is followed.
    progress.max_redirects = 0;
    progress.redirects = 0;
    EXPECT_EQ(after({error("MOVED 1 h:1")}, progress).action, Action::done);
}

TEST(ClusterNextStep, RedirectionsIgnoreTheDeadlineAndClosed) {
    // Following costs no wait: the next attempt's own deadline bounds it.
    Progress progress = fresh();
    progress.now = progress.deadline;
    progress.closed = true;
    EXPECT_EQ(after({error("MOVED 1 h:1")}, progress).action, Action::follow_moved);
    EXPECT_EQ(after({error("ASK 1 h:1")}, progress).action, Action::follow_ask);
}

TEST(ClusterNextStep, RedirectionWinsOverATransientError) {
    EXPECT_EQ(after({error("TRYAGAIN x"), error("MOVED 1 h:1")}).action, Action::follow_moved);
}

TEST(ClusterNextStep, TransientErrorsBackOffWhileTimeIsLeft) {
    for (const char* message :
         {"TRYAGAIN Multiple keys request during rehashing of slot",
          "CLUSTERDOWN The cluster is down", "LOADING Redis is loading the dataset in memory"}) {
        const Step step = after({error(message)});
        EXPECT_EQ(step.action, Action::retry_after_backoff) << message;
        EXPECT_EQ(step.wake_at, t0 + 10ms) << message;
    }
    // The back-off grows with the retries so far.
    Progress progress = fresh();
    progress.retries = 3;
    EXPECT_EQ(after({error("TRYAGAIN x")}, progress).wake_at, t0 + 80ms);
    progress.retries = 50;
    EXPECT_EQ(after({error("TRYAGAIN x")}, progress).wake_at, t0 + 200ms);
}

TEST(ClusterNextStep, TransientErrorsAreReturnedWhenTheBackOffWouldReachTheDeadline) {
    Progress progress = fresh();
    progress.deadline = t0 + 10ms + 1ns;  // the first back-off (10 ms) ends just before it
    EXPECT_EQ(after({error("TRYAGAIN x")}, progress).action, Action::retry_after_backoff);
    progress.deadline = t0 + 10ms;  // ends exactly at it: no time left to send
    EXPECT_EQ(after({error("TRYAGAIN x")}, progress).action, Action::done);
    progress.deadline = t0 - 1s;
    EXPECT_EQ(after({error("CLUSTERDOWN x")}, progress).action, Action::done);
}

TEST(ClusterNextStep, TransientErrorsAreReturnedOnceClosed) {
    Progress progress = fresh();
    progress.closed = true;
    EXPECT_EQ(after({error("TRYAGAIN x")}, progress).action, Action::done);
}

TEST(ClusterNextStep, AnUnsentRequestIsRetriedAfterBackOffAndARefresh) {
    const Step step = after(Failure::connect_failed);
    EXPECT_EQ(step.action, Action::refresh_then_retry);
    EXPECT_EQ(step.wake_at, t0 + 10ms);
    EXPECT_FALSE(step.redirect);
    Progress progress = fresh();
    progress.retries = 2;
    EXPECT_EQ(after(Failure::connect_failed, progress).wake_at, t0 + 40ms);
}

TEST(ClusterNextStep, AnUnsentRequestIsRethrownWhenTheBackOffWouldReachTheDeadline) {
    Progress progress = fresh();
    progress.deadline = t0 + 10ms + 1ns;
    EXPECT_EQ(after(Failure::connect_failed, progress).action, Action::refresh_then_retry);
    progress.deadline = t0 + 10ms;
    EXPECT_EQ(after(Failure::connect_failed, progress).action, Action::rethrow);
    progress.deadline = t0;
    EXPECT_EQ(after(Failure::connect_failed, progress).action, Action::rethrow);
}

TEST(ClusterNextStep, AnUnsentRequestIsRethrownOnceClosed) {
    Progress progress = fresh();
    progress.closed = true;
    EXPECT_EQ(after(Failure::connect_failed, progress).action, Action::rethrow);
}

TEST(ClusterNextStep, AFailureThatMayHaveRunIsNeverResent) {
    // Plenty of time, no retry so far: still rethrown, the request may have run.
    for (Failure failure : {Failure::dropped, Failure::timed_out}) {
        const Step step = after(failure);
        EXPECT_EQ(step.action, Action::rethrow);
        EXPECT_FALSE(step.redirect);
    }
}

TEST(ClusterNextStep, AFailureWinsOverWhateverRepliesThereAre) {
    // The loop has no replies on a failure; should it pass some, they are not read.
    EXPECT_EQ(next_step(Failure::dropped, {error("MOVED 1 h:1")}, "here", fresh()).action,
              Action::rethrow);
}

// A connect that times out (connect_timeout, 2 s by default, shorter than the 5 s
// command_timeout) proves the request was never sent, exactly like a refused connect: the
// cluster backs off, re-reads the slot map and sends to the new primary. (It used to give up at
// once, so a failover away from a host that drops packets was not followed.)
TEST(ClusterNextStep, AConnectTimeoutBeforeTheDeadlineIsRetriedLikeARefusedConnect) {
    const Step step = after(Failure::connect_timed_out);
    EXPECT_EQ(step.action, Action::refresh_then_retry);
    EXPECT_EQ(step.wake_at, t0 + 10ms);
}
