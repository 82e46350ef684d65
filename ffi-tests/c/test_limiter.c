/*
 * Tests of the rate limiter exports: JSON configuration, n permits per period on a
 * manual clock, retry-after hints, bounded waits (advancing the manual clock, cancelled
 * on the monotonic clock), metrics, and bad input.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "bw_test.h"

#define MS 1000000ull
#define J(s) (s), sizeof(s) - 1

static bw_limiter *new_limiter(const char *json, size_t len, bw_clock *clock) {
    bw_limiter *l = NULL;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_limiter_new_json(json, len, clock, &l, &e), BW_OK);
    CHECK_STR_EQ(e.message, "");
    return l;
}

static bw_limiter_stats metrics(bw_limiter *l) {
    bw_limiter_stats m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    CHECK_STATUS(bw_limiter_metrics(l, &m, NULL), BW_OK);
    CHECK_EQ_U64(m.size, sizeof m);
    return m;
}

TEST(n_permits_per_period_on_a_manual_clock) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_limiter *l = new_limiter(J("{\"permits\": 5, \"period_ms\": 1000}"), clock);
    for (int period = 0; period < 3; period++) {
        for (int i = 0; i < 5; i++) CHECK_STATUS(bw_limiter_try_acquire(l, 1, NULL, NULL), BW_OK);
        uint64_t ra = 0;
        bw_error e = dirty_error();
        CHECK_STATUS(bw_limiter_try_acquire(l, 1, &ra, &e), BW_REJECTED);
        CHECK_EQ_U64(ra, 200 * MS);
        CHECK_EQ_INT(e.policy, BW_POLICY_RATE_LIMITER);
        CHECK_EQ_INT(e.reason, BW_REASON_RATE_LIMITED);
        CHECK(e.has_retry_after);
        CHECK_EQ_U64(e.retry_after_ns, 200 * MS);
        CHECK_STR_EQ(e.message, "rate limiter rejected the call: rate limited");
        CHECK_STATUS(bw_clock_advance_ns(clock, 1000 * MS, NULL), BW_OK);
    }
    bw_limiter_stats m = metrics(l);
    CHECK_EQ_U64(m.permitted, 15);
    CHECK_EQ_U64(m.rejected, 3);
    CHECK_EQ_U64(m.available, 5);
    CHECK_EQ_U64(m.burst, 5);
    CHECK_EQ_U64(m.emission_interval_ns, 200 * MS);
    bw_limiter_free(l);
    bw_clock_free(clock);
}

TEST(n_at_once_and_a_burst) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_limiter *l = new_limiter(J("{\"permits\": 10, \"period_ms\": 1000, \"burst\": 4}"), clock);
    uint64_t ra = 0;
    CHECK_STATUS(bw_limiter_try_acquire(l, 3, NULL, NULL), BW_OK);
    CHECK_STATUS(bw_limiter_try_acquire(l, 2, &ra, NULL), BW_REJECTED);
    CHECK_EQ_U64(ra, 100 * MS);
    CHECK_STATUS(bw_limiter_try_acquire(l, 0, NULL, NULL), BW_OK);
    CHECK_STATUS(bw_limiter_try_acquire(l, 1, NULL, NULL), BW_OK);
    /* more than the burst never fits */
    CHECK_STATUS(bw_limiter_try_acquire(l, 5, &ra, NULL), BW_REJECTED);
    CHECK_EQ_U64(ra, UINT64_MAX);
    CHECK_STATUS(bw_limiter_acquire_timeout(l, UINT64_MAX, NULL, NULL), BW_OK);
    bw_limiter_free(l);
    bw_clock_free(clock);
}

TEST(acquire_timeout_waits_only_when_a_permit_comes_in_time) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_limiter *l = new_limiter(J("{\"permits\": 1, \"period_ms\": 1000}"), clock);
    uint64_t now = 0;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_limiter_acquire_timeout(l, 0, NULL, &e), BW_OK);
    CHECK_STATUS(bw_limiter_acquire_timeout(l, 500 * MS, NULL, &e), BW_REJECTED);
    CHECK_EQ_U64(e.retry_after_ns, 1000 * MS);
    CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
    CHECK_EQ_U64(now, 0); /* failed at once */
    CHECK_STATUS(bw_limiter_acquire_timeout(l, 1000 * MS, NULL, &e), BW_OK);
    CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
    CHECK_EQ_U64(now, 1000 * MS); /* waited by advancing the manual clock */
    bw_limiter_free(l);
    bw_clock_free(clock);
}

TEST(a_cancelled_wait_gives_cancelled) {
    bw_cancel *cancel = NULL;
    CHECK_STATUS(bw_cancel_new(&cancel, NULL), BW_OK);
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_limiter *l = new_limiter(J("{\"permits\": 1, \"period_ms\": 1000}"), clock);
    CHECK_STATUS(bw_limiter_acquire_timeout(l, 0, cancel, NULL), BW_OK);
    CHECK_STATUS(bw_cancel_cancel(cancel, NULL), BW_OK);
    bw_error e = dirty_error();
    CHECK_STATUS(bw_limiter_acquire_timeout(l, UINT64_MAX, cancel, &e), BW_CANCELLED);
    CHECK_EQ_INT(e.reason, BW_REASON_CANCELLED);
    CHECK_EQ_INT(e.policy, BW_POLICY_RATE_LIMITER);
    bw_limiter_free(l);
    bw_clock_free(clock);
    bw_cancel_free(cancel);
}

static void *cancel_it(void *arg) {
    bw_cancel_cancel(arg, NULL);
    return NULL;
}

TEST(a_cancel_wakes_a_real_wait) {
    /* One permit an hour on the monotonic clock: only the cancel ends the wait. */
    bw_limiter *l = new_limiter(J("{\"permits\": 1, \"period_ms\": 3600000}"), NULL);
    bw_cancel *cancel = NULL;
    CHECK_STATUS(bw_cancel_new(&cancel, NULL), BW_OK);
    CHECK_STATUS(bw_limiter_try_acquire(l, 1, NULL, NULL), BW_OK);
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, cancel_it, cancel), 0);
    CHECK_STATUS(bw_limiter_acquire_timeout(l, UINT64_MAX, cancel, NULL), BW_CANCELLED);
    CHECK_EQ_INT(pthread_join(t, NULL), 0);
    bw_limiter_free(l);
    bw_cancel_free(cancel);
}

TEST(bad_configuration_names_the_field) {
    static const struct {
        const char *json;
        const char *prefix;
    } cases[] = {
        {"{\"permits\": 0}", "invalid rate limiter configuration: permits"},
        {"{\"period_ms\": 0}", "invalid rate limiter configuration: period"},
        {"{\"period_ms\": -1}", "invalid rate limiter configuration: period_ms"},
        {"{\"burst\": 0}", "invalid rate limiter configuration: burst"},
        {"{\"max_wait_ms\": 1e40}", "invalid rate limiter configuration: max_wait_ms"},
        {"{\"rate\": 3}", "invalid rate limiter configuration: unknown key \"rate\""},
        {"{\"permits\": \"ten\"}", "invalid rate limiter configuration: permits: invalid type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_limiter *l = SENTINEL_PTR;
        bw_error e = dirty_error();
        CHECK_STATUS(bw_limiter_new_json(cases[i].json, strlen(cases[i].json), NULL, &l, &e),
                     BW_INVALID_CONFIG);
        CHECK(l == SENTINEL_PTR);
        CHECK_EQ_INT(e.policy, BW_POLICY_RATE_LIMITER);
        CHECK_STR_PREFIX(e.message, cases[i].prefix);
    }
}

TEST(bad_arguments_are_refused) {
    bw_limiter *l = SENTINEL_PTR;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_limiter_new_json(NULL, 1, NULL, &l, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_limiter_new_json(NULL, 0, NULL, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    CHECK(l == SENTINEL_PTR);
    l = new_limiter(NULL, 0, NULL);
    uint64_t ra = 7;
    CHECK_STATUS(bw_limiter_try_acquire(NULL, 1, &ra, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "limiter must not be NULL");
    CHECK_STR_EQ(last_error(), "limiter must not be NULL");
    CHECK_STATUS(bw_limiter_try_acquire(l, 1, &ra, &e), BW_OK);
    CHECK_EQ_U64(ra, 7); /* written only on BW_REJECTED */
    CHECK_STATUS(bw_limiter_acquire_timeout(NULL, 1, NULL, &e), BW_INVALID_ARGUMENT);
    bw_limiter_stats m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    CHECK_STATUS(bw_limiter_metrics(NULL, &m, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_limiter_metrics(l, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    m.size = 0;
    CHECK_STATUS(bw_limiter_metrics(l, &m, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(e.message, "out->size is 0");
    /* an older, smaller structure gets only its fields */
    m.size = offsetof(bw_limiter_stats, rejected);
    m.rejected = 12345;
    CHECK_STATUS(bw_limiter_metrics(l, &m, &e), BW_OK);
    CHECK_EQ_U64(m.size, offsetof(bw_limiter_stats, rejected));
    CHECK_EQ_U64(m.permitted, 1);
    CHECK_EQ_U64(m.rejected, 12345);
    bw_limiter_free(l);
    bw_limiter_free(NULL);
}

int main(void) {
    RUN(n_permits_per_period_on_a_manual_clock);
    RUN(n_at_once_and_a_burst);
    RUN(acquire_timeout_waits_only_when_a_permit_comes_in_time);
    RUN(a_cancelled_wait_gives_cancelled);
    RUN(a_cancel_wakes_a_real_wait);
    RUN(bad_configuration_names_the_field);
    RUN(bad_arguments_are_refused);
    return check_summary();
}
