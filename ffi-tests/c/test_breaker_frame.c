#define _POSIX_C_SOURCE 200809L
/*
 * Tests of the one-argument protocol for foreign-function interfaces that pay per
 * argument (the Python binding's call()): bw_breaker_enter answers in its return value
 * (0 admitted, a reason code with BW_BREAKER_ENTER_RETRY_AFTER when the frame holds the
 * time left, a negated status), bw_breaker_exit / bw_breaker_exit_outcome record the
 * frame's permit; against the permit protocol they shortcut, and their bad input.
 */
#include "bw_test.h"

#define SEC 1000000000ull

static bw_breaker *breaker_json(const char *json, bw_clock *clock) {
    bw_breaker *b = NULL;
    bw_error e;
    bw_status s = bw_breaker_new_json(json, strlen(json), clock, &b, &e);
    if (s != BW_OK) fprintf(stderr, "bw_breaker_new_json: %s\n", e.message);
    return b;
}

static bw_breaker_stats metrics_of(const bw_breaker *b) {
    bw_breaker_stats m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    bw_breaker_metrics(b, &m, NULL);
    return m;
}

static bw_breaker_frame dirty_frame(const bw_breaker *b) {
    bw_breaker_frame f;
    memset(&f, 0xab, sizeof f);
    f.breaker = b;
    return f;
}

TEST(enter_answers_admissions_and_refusals_exit_records) {
    bw_clock *clock = NULL;
    bw_clock_manual_new(&clock, NULL);
    bw_breaker *b = breaker_json(
        "{\"consecutive_failures\": 2,"
        " \"open_duration_ms\": 30000}",
        clock);
    bw_breaker_frame f = dirty_frame(b);
    CHECK_EQ_INT(bw_breaker_enter(&f), BW_REASON_NONE);
    CHECK(f.breaker == b);
    CHECK_EQ_U64(f.permit.generation, 1);
    CHECK_EQ_U64(f.retry_after_ns, 0);
    CHECK(f.retry_after_s == 0.0);
    CHECK_STATUS(bw_breaker_exit(&f), BW_OK);
    CHECK_EQ_U64(metrics_of(b).total_successes, 1);
    /* one frame, reused call after call */
    CHECK_EQ_INT(bw_breaker_enter(&f), BW_REASON_NONE);
    CHECK_STATUS(bw_breaker_exit_outcome(&f, BW_OUTCOME_IGNORED), BW_OK);
    CHECK_EQ_INT(bw_breaker_enter(&f), BW_REASON_NONE);
    CHECK_STATUS(bw_breaker_exit_outcome(&f, BW_OUTCOME_FAILURE), BW_OK);
    bw_breaker_frame g = dirty_frame(b);
    CHECK_EQ_INT(bw_breaker_enter(&g), BW_REASON_NONE);
    CHECK_STATUS(bw_breaker_exit_outcome(&g, BW_OUTCOME_FAILURE), BW_OK);

    /* open: the reason with the flag, the time left in both units, counted as
     * try_acquire's refusal */
    bw_clock_advance_ns(clock, 10 * SEC, NULL);
    f = dirty_frame(b);
    CHECK_EQ_INT(bw_breaker_enter(&f), BW_REASON_OPEN | BW_BREAKER_ENTER_RETRY_AFTER);
    CHECK_EQ_U64(f.permit.generation, 0);
    CHECK_EQ_U64(f.permit.acquired_ns, 0);
    CHECK_EQ_U64(f.retry_after_ns, 20 * SEC);
    CHECK(f.retry_after_s == 20.0);
    bw_error e = dirty_error();
    bw_permit p;
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, &e), BW_REJECTED);
    CHECK_EQ_U64(e.retry_after_ns, f.retry_after_ns);

    /* the permit of the closed generation is stale: an answer, not an error (the
     * thread's last error stays what it was) */
    bw_breaker_frame old = g;
    CHECK_STATUS(bw_breaker_try_acquire(NULL, &p, NULL), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_exit(&old), BW_STALE);
    CHECK_STR_EQ(last_error(), "breaker must not be NULL");

    /* half-open with a trial of 1: one admission, then trial full (no hint) */
    bw_clock_advance_ns(clock, 20 * SEC, NULL);
    bw_breaker_frame trial = dirty_frame(b);
    CHECK_EQ_INT(bw_breaker_enter(&trial), BW_REASON_NONE);
    f = dirty_frame(b);
    CHECK_EQ_INT(bw_breaker_enter(&f), BW_REASON_TRIAL_FULL);
    CHECK_EQ_U64(f.retry_after_ns, 0);
    CHECK(f.retry_after_s == 0.0);
    CHECK_STATUS(bw_breaker_exit(&trial), BW_OK);
    uint32_t st = 99;
    bw_breaker_state(b, &st, NULL);
    CHECK_EQ_INT(st, BW_STATE_CLOSED);

    bw_breaker_force_open(b, NULL);
    f = dirty_frame(b);
    CHECK_EQ_INT(bw_breaker_enter(&f), BW_REASON_FORCED_OPEN);

    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(m.rejected_open, 2);
    CHECK_EQ_U64(m.rejected_trial_full, 1);
    CHECK_EQ_U64(m.rejected_forced_open, 1);
    CHECK_EQ_U64(m.total_failures, 2);
    CHECK_EQ_U64(m.total_successes, 2);
    CHECK_EQ_U64(m.stale_dropped, 1);
    bw_breaker_free(b);
    bw_clock_free(clock);
}

TEST(enter_and_exit_refuse_bad_arguments) {
    bw_breaker *b = breaker_json("", NULL);
    CHECK_EQ_INT(bw_breaker_enter(NULL), -BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(last_error(), "frame must not be NULL");
    bw_breaker_frame f = dirty_frame(NULL);
    bw_breaker_frame untouched = f;
    CHECK_EQ_INT(bw_breaker_enter(&f), -BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(last_error(), "breaker must not be NULL");
    CHECK(memcmp(&f, &untouched, sizeof f) == 0);

    f = dirty_frame(b);
    CHECK_EQ_INT(bw_breaker_enter(&f), BW_REASON_NONE);
    CHECK_STATUS(bw_breaker_exit(NULL), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(last_error(), "frame must not be NULL");
    CHECK_STATUS(bw_breaker_exit_outcome(NULL, BW_OUTCOME_SUCCESS), BW_INVALID_ARGUMENT);
    bw_breaker_frame no_breaker = f;
    no_breaker.breaker = NULL;
    CHECK_STATUS(bw_breaker_exit(&no_breaker), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(last_error(), "breaker must not be NULL");
    CHECK_STATUS(bw_breaker_exit_outcome(&f, 3), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(last_error(),
                 "outcome: 3 is not a valid value (expected 0 (BW_OUTCOME_SUCCESS), 1 "
                 "(BW_OUTCOME_FAILURE) or 2 (BW_OUTCOME_IGNORED))");
    CHECK_STATUS(bw_breaker_exit_outcome(&f, 0xffffffffu), BW_INVALID_ARGUMENT);
    /* nothing was recorded: the permit is still unreported, record it */
    CHECK_EQ_U64(metrics_of(b).total_successes, 0);
    CHECK_STATUS(bw_breaker_exit(&f), BW_OK);
    CHECK_EQ_U64(metrics_of(b).total_successes, 1);
    bw_breaker_free(b);
}

int main(void) {
    RUN(enter_answers_admissions_and_refusals_exit_records);
    RUN(enter_and_exit_refuse_bad_arguments);
    return check_summary();
}
