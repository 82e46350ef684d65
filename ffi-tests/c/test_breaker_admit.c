#define _POSIX_C_SOURCE 200809L
/*
 * Tests of the bindings' hot-path pair: bw_breaker_admit (a refusal is an answer, not an
 * error) and bw_breaker_record_ptr (the permit by pointer), against the permit protocol
 * they shortcut, and their bad input.
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

static bw_breaker_admission dirty_admission(void) {
    bw_breaker_admission a;
    memset(&a, 0xab, sizeof a);
    return a;
}

TEST(admit_answers_permits_and_refusals_with_their_reasons) {
    bw_clock *clock = NULL;
    bw_clock_manual_new(&clock, NULL);
    bw_breaker *b = breaker_json(
        "{\"consecutive_failures\": 2,"
        " \"open_duration_ms\": 30000}",
        clock);
    bw_error e = dirty_error();
    bw_breaker_admission a = dirty_admission();
    CHECK_STATUS(bw_breaker_admit(b, &a, &e), BW_OK);
    CHECK_EQ_U64(a.permit.generation, 1);
    CHECK_EQ_INT(a.reason, BW_REASON_NONE);
    CHECK(!a.has_retry_after);
    CHECK_EQ_U64(a.retry_after_ns, 0);
    CHECK_STATUS(bw_breaker_record_ptr(b, &a.permit, BW_OUTCOME_FAILURE, &e), BW_OK);
    /* NULL error objects are fine on both */
    a = dirty_admission();
    CHECK_STATUS(bw_breaker_admit(b, &a, NULL), BW_OK);
    CHECK_EQ_INT(a.reason, BW_REASON_NONE);
    CHECK_STATUS(bw_breaker_record_ptr(b, &a.permit, BW_OUTCOME_FAILURE, NULL), BW_OK);

    /* open: a refusal with the time left, status BW_OK, counted like try_acquire's */
    bw_clock_advance_ns(clock, 10 * SEC, NULL);
    a = dirty_admission();
    e = dirty_error();
    CHECK_STATUS(bw_breaker_admit(b, &a, &e), BW_OK);
    CHECK_EQ_U64(a.permit.generation, 0);
    CHECK_EQ_U64(a.permit.acquired_ns, 0);
    CHECK_EQ_INT(a.reason, BW_REASON_OPEN);
    CHECK(a.has_retry_after);
    CHECK_EQ_U64(a.retry_after_ns, 20 * SEC);
    CHECK_EQ_INT(e.reason, BW_REASON_NONE);
    CHECK_STR_EQ(e.message, "");
    bw_permit p;
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, &e), BW_REJECTED);
    CHECK_EQ_U64(e.retry_after_ns, a.retry_after_ns);

    /* the permit of the closed generation is stale through record_ptr too */
    bw_permit old = {1, 0};
    CHECK_STATUS(bw_breaker_record_ptr(b, &old, BW_OUTCOME_SUCCESS, &e), BW_STALE);
    CHECK_STR_PREFIX(e.message, "the permit of generation 1 is stale");

    /* half-open with a trial of 1: one permit, then trial full */
    bw_clock_advance_ns(clock, 20 * SEC, NULL);
    bw_breaker_admission trial = dirty_admission();
    CHECK_STATUS(bw_breaker_admit(b, &trial, NULL), BW_OK);
    CHECK_EQ_INT(trial.reason, BW_REASON_NONE);
    a = dirty_admission();
    CHECK_STATUS(bw_breaker_admit(b, &a, NULL), BW_OK);
    CHECK_EQ_INT(a.reason, BW_REASON_TRIAL_FULL);
    CHECK(!a.has_retry_after);
    CHECK_EQ_U64(a.retry_after_ns, 0);
    CHECK_STATUS(bw_breaker_record_ptr(b, &trial.permit, BW_OUTCOME_SUCCESS, NULL), BW_OK);
    uint32_t st = 99;
    bw_breaker_state(b, &st, NULL);
    CHECK_EQ_INT(st, BW_STATE_CLOSED);

    bw_breaker_force_open(b, NULL);
    a = dirty_admission();
    CHECK_STATUS(bw_breaker_admit(b, &a, NULL), BW_OK);
    CHECK_EQ_INT(a.reason, BW_REASON_FORCED_OPEN);
    CHECK(!a.has_retry_after);

    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(m.rejected_open, 2);
    CHECK_EQ_U64(m.rejected_trial_full, 1);
    CHECK_EQ_U64(m.rejected_forced_open, 1);
    CHECK_EQ_U64(m.total_failures, 2);
    CHECK_EQ_U64(m.total_successes, 1);
    CHECK_EQ_U64(m.stale_dropped, 1);
    bw_breaker_free(b);
    bw_clock_free(clock);
}

TEST(admit_and_record_ptr_refuse_bad_arguments) {
    bw_breaker *b = breaker_json("", NULL);
    bw_breaker_admission a = dirty_admission();
    bw_breaker_admission untouched = a;
    bw_error e;
    CHECK_STATUS(bw_breaker_admit(NULL, &a, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "breaker must not be NULL");
    CHECK(memcmp(&a, &untouched, sizeof a) == 0);
    CHECK_STATUS(bw_breaker_admit(b, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    CHECK_STATUS(bw_breaker_admit(NULL, NULL, NULL), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(last_error(), "breaker must not be NULL");

    CHECK_STATUS(bw_breaker_admit(b, &a, &e), BW_OK);
    CHECK_STATUS(bw_breaker_record_ptr(NULL, &a.permit, BW_OUTCOME_SUCCESS, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "breaker must not be NULL");
    CHECK_STATUS(bw_breaker_record_ptr(b, NULL, BW_OUTCOME_SUCCESS, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "permit must not be NULL");
    CHECK_STATUS(bw_breaker_record_ptr(b, &a.permit, 3, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message,
                 "outcome: 3 is not a valid value (expected 0 (BW_OUTCOME_SUCCESS), 1 "
                 "(BW_OUTCOME_FAILURE) or 2 (BW_OUTCOME_IGNORED))");
    CHECK_STATUS(bw_breaker_record_ptr(b, &a.permit, 0xffffffffu, NULL), BW_INVALID_ARGUMENT);
    /* the permit is still unreported: record it */
    CHECK_STATUS(bw_breaker_record_ptr(b, &a.permit, BW_OUTCOME_SUCCESS, &e), BW_OK);
    CHECK_EQ_U64(metrics_of(b).total_successes, 1);
    bw_breaker_free(b);
    bw_breaker_free(NULL);
}

int main(void) {
    RUN(admit_answers_permits_and_refusals_with_their_reasons);
    RUN(admit_and_record_ptr_refuse_bad_arguments);
    return check_summary();
}
