/*
 * Tests of the retry and deadline exports: JSON configuration, the callback-free
 * protocol (begin / next / attempt) on a manual clock with exact delays, the C
 * convenience bw_retry_call, deadlines, and bad input.
 */
#include <pthread.h>
#include <stdbool.h>

#include "bw_test.h"

#define MS 1000000ull
#define J(s) (s), sizeof(s) - 1

static bw_retry *new_retry(const char *json, size_t len, bw_clock *clock) {
    bw_retry *r = NULL;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_retry_new_json(json, len, clock, &r, &e), BW_OK);
    CHECK_EQ_INT(e.status, BW_OK);
    CHECK_STR_EQ(e.message, "");
    return r;
}

/* ---- configuration ---- */

TEST(defaults_are_three_attempts_doubling_from_500ms) {
    bw_retry *r = new_retry(NULL, 0, NULL);
    uint64_t delays[8];
    size_t n = 0;
    CHECK_STATUS(bw_retry_delays_ns(r, delays, 8, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, 2);
    CHECK_EQ_U64(delays[0], 500 * MS);
    CHECK_EQ_U64(delays[1], 1000 * MS);
    bw_retry_free(r);
    r = new_retry(J("  "), NULL);
    CHECK_STATUS(bw_retry_delays_ns(r, NULL, 0, &n, NULL), BW_BUFFER_TOO_SMALL);
    CHECK_EQ_U64(n, 2);
    bw_retry_free(r);
}

TEST(every_backoff_kind_gives_its_schedule) {
    uint64_t d[8];
    size_t n = 0;
    bw_retry *r = new_retry(J("{\"max_attempts\": 4, \"backoff\": \"fixed\", \"initial_ms\": 2.5}"), NULL);
    CHECK_STATUS(bw_retry_delays_ns(r, d, 8, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, 3);
    CHECK_EQ_U64(d[0], 2500000);
    CHECK_EQ_U64(d[2], 2500000);
    bw_retry_free(r);
    r = new_retry(J("{\"max_attempts\": 4, \"backoff\": \"linear\", \"initial_ms\": 100, \"step_ms\": 50}"), NULL);
    CHECK_STATUS(bw_retry_delays_ns(r, d, 8, &n, NULL), BW_OK);
    CHECK_EQ_U64(d[0], 100 * MS);
    CHECK_EQ_U64(d[1], 150 * MS);
    CHECK_EQ_U64(d[2], 200 * MS);
    bw_retry_free(r);
    r = new_retry(J("{\"max_attempts\": 6, \"initial_ms\": 1000, \"multiplier\": 2, \"max_delay_ms\": 5000}"), NULL);
    CHECK_STATUS(bw_retry_delays_ns(r, d, 8, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, 5);
    CHECK_EQ_U64(d[0], 1000 * MS);
    CHECK_EQ_U64(d[1], 2000 * MS);
    CHECK_EQ_U64(d[2], 4000 * MS);
    CHECK_EQ_U64(d[3], 5000 * MS);
    CHECK_EQ_U64(d[4], 5000 * MS);
    bw_retry_free(r);
    r = new_retry(J("{\"max_attempts\": 10, \"backoff\": \"fixed\", \"initial_ms\": 1000, \"max_elapsed_ms\": 2500}"), NULL);
    CHECK_STATUS(bw_retry_delays_ns(r, d, 8, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, 2);
    bw_retry_free(r);
}

TEST(bad_configuration_names_the_field) {
    static const struct {
        const char *json;
        const char *prefix;
    } cases[] = {
        {"{\"max_attempts\": 0}", "invalid retry configuration: max_attempts"},
        {"{\"max_atempts\": 2}", "invalid retry configuration: unknown key \"max_atempts\" (did you mean \"max_attempts\"?)"},
        {"{\"max_attempts\": -1}", "invalid retry configuration: max_attempts: invalid value"},
        {"{\"initial_ms\": -5}", "invalid retry configuration: initial_ms"},
        {"{\"multiplier\": 0.5}", "invalid retry configuration: multiplier"},
        {"{\"backoff\": \"quadratic\"}", "invalid retry configuration: backoff: unknown variant"},
        {"{\"jitter\": \"proportional\", \"jitter_factor\": 2}", "invalid retry configuration: jitter"},
        {"{\"initial_ms\": 1000, \"max_delay_ms\": 10}", "invalid retry configuration: max_delay"},
        {"{\"max_elapsed_ms\": 0}", "invalid retry configuration: max_elapsed"},
        {"{\"initial_ms\": 1e300}", "invalid retry configuration: initial_ms"},
        {"{\"budget\": {\"percent\": 1.5}}", "invalid retry configuration: percent"},
        {"{\"budget\": {\"ttl_ms\": 0}}", "invalid retry configuration: ttl"},
        {"{\"max_attempts\": 2", "invalid retry configuration: malformed JSON: EOF"},
        {"42", "invalid retry configuration: invalid type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_retry *r = SENTINEL_PTR;
        bw_error e = dirty_error();
        CHECK_STATUS(bw_retry_new_json(cases[i].json, strlen(cases[i].json), NULL, &r, &e),
                     BW_INVALID_CONFIG);
        CHECK(r == SENTINEL_PTR);
        CHECK_EQ_INT(e.policy, BW_POLICY_RETRY);
        CHECK_STR_PREFIX(e.message, cases[i].prefix);
    }
}

TEST(bad_arguments_are_refused) {
    bw_retry *r = SENTINEL_PTR;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_retry_new_json(NULL, 3, NULL, &r, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "json must not be NULL when json_len is not 0");
    CHECK_STR_EQ(last_error(), "json must not be NULL when json_len is not 0");
    CHECK(r == SENTINEL_PTR);
    CHECK_STATUS(bw_retry_new_json("\xff", 1, NULL, &r, &e), BW_INVALID_CONFIG);
    CHECK_STATUS(bw_retry_new_json(NULL, 0, NULL, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");

    r = new_retry(NULL, 0, NULL);
    bw_retry_state *st = SENTINEL_PTR;
    CHECK_STATUS(bw_retry_begin(NULL, 0, &st, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "retry must not be NULL");
    CHECK_STATUS(bw_retry_begin(r, 0, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK(st == SENTINEL_PTR);
    CHECK_STATUS(bw_retry_begin(r, 0, &st, &e), BW_OK);

    uint64_t delay = 77;
    uint32_t stop = 77, attempt = 77;
    CHECK_STATUS(bw_retry_next(NULL, BW_RETRY_OUTCOME_SUCCESS, 0, &delay, &stop, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_retry_next(st, 4, 0, &delay, &stop, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(e.message, "outcome_kind: 4 is not a valid value");
    CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_SUCCESS, 0, NULL, &stop, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out_delay_ns must not be NULL");
    CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_SUCCESS, 0, &delay, NULL, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out_stop_reason must not be NULL");
    CHECK_EQ_U64(delay, 77);
    CHECK_EQ_U64(stop, 77);
    /* A refused report does not move the state. */
    CHECK_STATUS(bw_retry_state_attempt(st, &attempt, &e), BW_OK);
    CHECK_EQ_INT(attempt, 1);
    CHECK_STATUS(bw_retry_state_attempt(NULL, &attempt, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_retry_state_attempt(st, NULL, &e), BW_INVALID_ARGUMENT);

    size_t n = 0;
    uint64_t buf[1];
    CHECK_STATUS(bw_retry_delays_ns(NULL, buf, 1, &n, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_retry_delays_ns(r, NULL, 1, &n, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_retry_delays_ns(r, buf, 1, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_retry_delays_ns(r, buf, 1, &n, &e), BW_BUFFER_TOO_SMALL);
    CHECK_EQ_U64(n, 2);

    int result = 5;
    CHECK_STATUS(bw_retry_call(NULL, NULL, NULL, NULL, &result, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_retry_call(r, NULL, NULL, NULL, &result, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "fn_ must not be NULL");
    CHECK_EQ_INT(result, 5);

    bw_retry_state_free(st);
    bw_retry_free(r);
    bw_retry_free(NULL);
    bw_retry_state_free(NULL);
}

/* ---- the protocol on a manual clock ---- */

TEST(a_seeded_jittered_schedule_through_begin_next_equals_the_rust_delays) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    const char *jsons[] = {
        "{\"max_attempts\": 6, \"initial_ms\": 100, \"max_delay_ms\": 2000, \"jitter\": "
        "\"proportional\", \"jitter_factor\": 0.5, \"min_delay_ms\": 100, \"seed\": 42}",
        "{\"max_attempts\": 6, \"initial_ms\": 100, \"max_delay_ms\": 2000, \"jitter\": \"full\", "
        "\"seed\": 7}",
        "{\"max_attempts\": 6, \"initial_ms\": 100, \"max_delay_ms\": 2000, \"jitter\": "
        "\"decorrelated\", \"seed\": 9}",
        "{\"max_attempts\": 6, \"initial_ms\": 100, \"jitter\": \"equal\", \"seed\": 3}",
    };
    for (size_t j = 0; j < sizeof jsons / sizeof jsons[0]; j++) {
        bw_retry *r = new_retry(jsons[j], strlen(jsons[j]), clock);
        uint64_t expected[8];
        size_t n = 0;
        CHECK_STATUS(bw_retry_delays_ns(r, expected, 8, &n, NULL), BW_OK);
        CHECK_EQ_U64(n, 5);
        bw_retry_state *st = NULL;
        CHECK_STATUS(bw_retry_begin(r, 0, &st, NULL), BW_OK);
        uint64_t start = 0, now = 0, total = 0;
        CHECK_STATUS(bw_clock_now_ns(clock, &start, NULL), BW_OK);
        for (size_t i = 0; i < n; i++) {
            uint64_t delay = 0;
            uint32_t stop = 99, attempt = 0;
            CHECK_STATUS(bw_retry_state_attempt(st, &attempt, NULL), BW_OK);
            CHECK_EQ_INT(attempt, i + 1);
            CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL),
                         BW_OK);
            CHECK_EQ_INT(stop, BW_RETRY_CONTINUE);
            CHECK_EQ_U64(delay, expected[i]);
            CHECK(delay > 0);
            total += delay;
            CHECK_STATUS(bw_clock_advance_ns(clock, delay, NULL), BW_OK);
        }
        uint64_t delay = 5;
        uint32_t stop = 0;
        CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL), BW_OK);
        CHECK_EQ_INT(stop, BW_RETRY_STOP_ATTEMPTS_EXHAUSTED);
        CHECK_EQ_U64(delay, 0);
        CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
        CHECK_EQ_U64(now - start, total);
        bw_retry_state_free(st);
        bw_retry_free(r);
    }
    bw_clock_free(clock);
}

TEST(outcomes_stop_with_their_reason_and_stay_stopped) {
    bw_retry *r = new_retry(J("{\"max_attempts\": 5, \"backoff\": \"fixed\", \"initial_ms\": 10}"), NULL);
    static const uint32_t kinds[] = {BW_RETRY_OUTCOME_SUCCESS, BW_RETRY_OUTCOME_PERMANENT,
                                     BW_RETRY_OUTCOME_REJECTED};
    static const uint32_t reasons[] = {BW_RETRY_STOP_SUCCEEDED, BW_RETRY_STOP_PERMANENT,
                                       BW_RETRY_STOP_REJECTED};
    for (int i = 0; i < 3; i++) {
        bw_retry_state *st = NULL;
        uint64_t delay = 1;
        uint32_t stop = 0, attempt = 0;
        CHECK_STATUS(bw_retry_begin(r, 0, &st, NULL), BW_OK);
        CHECK_STATUS(bw_retry_next(st, kinds[i], 0, &delay, &stop, NULL), BW_OK);
        CHECK_EQ_INT(stop, reasons[i]);
        CHECK_EQ_U64(delay, 0);
        CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL), BW_OK);
        CHECK_EQ_INT(stop, reasons[i]);
        CHECK_STATUS(bw_retry_state_attempt(st, &attempt, NULL), BW_OK);
        CHECK_EQ_INT(attempt, 1);
        bw_retry_state_free(st);
    }
    bw_retry_free(r);
}

TEST(a_retry_after_hint_replaces_a_smaller_delay) {
    bw_retry *r = new_retry(J("{\"max_attempts\": 4, \"backoff\": \"fixed\", \"initial_ms\": 100}"), NULL);
    bw_retry_state *st = NULL;
    uint64_t delay = 0;
    uint32_t stop = 0;
    CHECK_STATUS(bw_retry_begin(r, 0, &st, NULL), BW_OK);
    CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 2000 * MS, &delay, &stop, NULL), BW_OK);
    CHECK_EQ_U64(delay, 2000 * MS);
    CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 1 * MS, &delay, &stop, NULL), BW_OK);
    CHECK_EQ_U64(delay, 100 * MS);
    bw_retry_state_free(st);
    bw_retry_free(r);
}

TEST(a_deadline_stops_a_retry_that_would_end_past_it) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_retry *r = new_retry(J("{\"max_attempts\": 10, \"backoff\": \"fixed\", \"initial_ms\": 100}"), clock);
    bw_deadline *d = NULL;
    CHECK_STATUS(bw_deadline_new(clock, 250 * MS, &d, NULL), BW_OK);
    uint64_t at = 0, delay = 0;
    uint32_t stop = 0;
    CHECK_STATUS(bw_deadline_at_ns(d, &at, NULL), BW_OK);
    CHECK_EQ_U64(at, 250 * MS);
    bw_retry_state *st = NULL;
    CHECK_STATUS(bw_retry_begin(r, at, &st, NULL), BW_OK);
    for (int i = 0; i < 2; i++) {
        CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL), BW_OK);
        CHECK_EQ_INT(stop, BW_RETRY_CONTINUE);
        CHECK_STATUS(bw_clock_advance_ns(clock, delay, NULL), BW_OK);
    }
    /* at 200 ms a 100 ms delay would end at 300 ms, past 250 ms */
    CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL), BW_OK);
    CHECK_EQ_INT(stop, BW_RETRY_STOP_DEADLINE_REACHED);
    bw_retry_state_free(st);
    /* a hint that ends past the deadline stops too */
    CHECK_STATUS(bw_retry_begin(r, at, &st, NULL), BW_OK);
    CHECK_STATUS(bw_retry_next(st, BW_RETRY_OUTCOME_RETRYABLE, 1000 * MS, &delay, &stop, NULL), BW_OK);
    CHECK_EQ_INT(stop, BW_RETRY_STOP_DEADLINE_REACHED);
    bw_retry_state_free(st);
    bw_deadline_free(d);
    bw_retry_free(r);
    bw_clock_free(clock);
}

TEST(the_budget_limits_retries_across_calls) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    /* 50% of calls, no reserve: two calls deposit one retry */
    bw_retry *r = new_retry(J("{\"max_attempts\": 5, \"backoff\": \"fixed\", \"initial_ms\": 0, "
                              "\"budget\": {\"percent\": 0.5, \"ttl_ms\": 10000, "
                              "\"min_retries_per_sec\": 0}}"),
                            clock);
    bw_retry_state *a = NULL, *b = NULL;
    uint64_t delay = 0;
    uint32_t stop = 0;
    CHECK_STATUS(bw_retry_begin(r, 0, &a, NULL), BW_OK);
    CHECK_STATUS(bw_retry_begin(r, 0, &b, NULL), BW_OK);
    CHECK_STATUS(bw_retry_next(a, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL), BW_OK);
    CHECK_EQ_INT(stop, BW_RETRY_CONTINUE);
    CHECK_STATUS(bw_retry_next(a, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL), BW_OK);
    CHECK_EQ_INT(stop, BW_RETRY_STOP_BUDGET_EXHAUSTED);
    CHECK_STATUS(bw_retry_next(b, BW_RETRY_OUTCOME_RETRYABLE, 0, &delay, &stop, NULL), BW_OK);
    CHECK_EQ_INT(stop, BW_RETRY_STOP_BUDGET_EXHAUSTED);
    bw_retry_state_free(a);
    bw_retry_state_free(b);
    bw_retry_free(r);
    bw_clock_free(clock);
}

/* ---- bw_retry_call ---- */

struct script {
    const int *results;
    int calls;
    uint32_t attempts[16];
    bw_clock *clock;
    uint64_t times[16];
    bw_cancel *cancel_after; /* cancelled by the attempt with this number */
    int cancel_at;
};

static int scripted(void *ud, uint32_t attempt) {
    struct script *s = ud;
    s->attempts[s->calls] = attempt;
    if (s->clock) bw_clock_now_ns(s->clock, &s->times[s->calls], NULL);
    if (s->cancel_after && (int)attempt == s->cancel_at) bw_cancel_cancel(s->cancel_after, NULL);
    return s->results[s->calls++];
}

TEST(call_retries_and_advances_the_manual_clock) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_retry *r = new_retry(J("{\"max_attempts\": 4, \"initial_ms\": 100}"), clock);
    static const int results[] = {1, 2, 0};
    struct script s = {.results = results, .clock = clock};
    int out = -99;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_retry_call(r, scripted, &s, NULL, &out, &e), BW_OK);
    CHECK_EQ_INT(out, 0);
    CHECK_EQ_INT(s.calls, 3);
    CHECK_EQ_INT(s.attempts[2], 3);
    CHECK_EQ_U64(s.times[0], 0);
    CHECK_EQ_U64(s.times[1], 100 * MS);
    CHECK_EQ_U64(s.times[2], 300 * MS);
    bw_retry_free(r);
    bw_clock_free(clock);
}

TEST(call_returns_the_last_failure) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_retry *r = new_retry(J("{\"max_attempts\": 3, \"initial_ms\": 10}"), clock);
    static const int retryable[] = {1, 2, 3};
    struct script s = {.results = retryable};
    int out = 0;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_retry_call(r, scripted, &s, NULL, &out, &e), BW_FAILED);
    CHECK_EQ_INT(out, 3);
    CHECK_EQ_INT(s.calls, 3);
    CHECK_EQ_INT(e.policy, BW_POLICY_RETRY);
    CHECK_STR_EQ(e.message, "retry stopped after 3 attempt(s): attempts exhausted (last result 3)");
    static const int permanent[] = {4, -7};
    struct script p = {.results = permanent};
    CHECK_STATUS(bw_retry_call(r, scripted, &p, NULL, &out, &e), BW_FAILED);
    CHECK_EQ_INT(out, -7);
    CHECK_EQ_INT(p.calls, 2);
    CHECK_STR_EQ(e.message, "retry stopped after 2 attempt(s): permanent failure (last result -7)");
    bw_retry_free(r);
    bw_clock_free(clock);
}

TEST(call_stops_when_cancelled) {
    /* Cancelled during attempt 2: the wait after it is not taken; the one after attempt
     * 1 advanced the manual clock. */
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_retry *r = new_retry(J("{\"max_attempts\": 5, \"backoff\": \"fixed\", \"initial_ms\": 60000}"), clock);
    bw_cancel *cancel = NULL;
    CHECK_STATUS(bw_cancel_new(&cancel, NULL), BW_OK);
    static const int results[] = {1, 1, 1, 1, 1};
    struct script s = {.results = results, .cancel_after = cancel, .cancel_at = 2};
    int out = 0;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_retry_call(r, scripted, &s, cancel, &out, &e), BW_CANCELLED);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(out, 1);
    CHECK_EQ_INT(e.policy, BW_POLICY_RETRY);
    uint64_t now = 0;
    CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
    CHECK_EQ_U64(now, 60000 * MS);
    bw_retry_free(r);
    bw_clock_free(clock);
    bw_cancel_free(cancel);
}

struct monotonic_cancel {
    bw_cancel *cancel;
    int calls;
};

static int fail_once(void *ud, uint32_t attempt) {
    struct monotonic_cancel *m = ud;
    (void)attempt;
    m->calls++;
    return 1;
}

static void *cancel_soon(void *arg) {
    bw_cancel_cancel(arg, NULL);
    return NULL;
}

TEST(a_cancel_wakes_a_real_wait_at_once) {
    /* A one-hour backoff on the monotonic clock: only the cancel can end the wait. */
    bw_retry *r = new_retry(J("{\"max_attempts\": 2, \"backoff\": \"fixed\", \"initial_ms\": 3600000}"), NULL);
    struct monotonic_cancel m = {0};
    CHECK_STATUS(bw_cancel_new(&m.cancel, NULL), BW_OK);
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, cancel_soon, m.cancel), 0);
    int out = 0;
    CHECK_STATUS(bw_retry_call(r, fail_once, &m, m.cancel, &out, NULL), BW_CANCELLED);
    CHECK_EQ_INT(pthread_join(t, NULL), 0);
    CHECK_EQ_INT(m.calls, 1);
    CHECK_EQ_INT(out, 1);
    bw_cancel_free(m.cancel);
    bw_retry_free(r);
}

/* ---- deadlines ---- */

TEST(deadline_counts_down_on_its_clock) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    CHECK_STATUS(bw_clock_advance_ns(clock, 5, NULL), BW_OK);
    bw_deadline *d = NULL;
    CHECK_STATUS(bw_deadline_new(clock, 100, &d, NULL), BW_OK);
    bw_clock_free(clock); /* the deadline keeps its own reference */
    uint64_t rem = 0, at = 0;
    bool expired = true;
    CHECK_STATUS(bw_deadline_remaining_ns(d, &rem, NULL), BW_OK);
    CHECK_EQ_U64(rem, 100);
    CHECK_STATUS(bw_deadline_expired(d, &expired, NULL), BW_OK);
    CHECK(!expired);
    CHECK_STATUS(bw_deadline_at_ns(d, &at, NULL), BW_OK);
    CHECK_EQ_U64(at, 105);
    bw_deadline_free(d);

    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    CHECK_STATUS(bw_deadline_new(clock, 100, &d, NULL), BW_OK);
    CHECK_STATUS(bw_clock_advance_ns(clock, 99, NULL), BW_OK);
    CHECK_STATUS(bw_deadline_remaining_ns(d, &rem, NULL), BW_OK);
    CHECK_EQ_U64(rem, 1);
    CHECK_STATUS(bw_clock_advance_ns(clock, 1, NULL), BW_OK);
    CHECK_STATUS(bw_deadline_remaining_ns(d, &rem, NULL), BW_OK);
    CHECK_EQ_U64(rem, 0);
    CHECK_STATUS(bw_deadline_expired(d, &expired, NULL), BW_OK);
    CHECK(expired);
    CHECK_STATUS(bw_clock_advance_ns(clock, 1000, NULL), BW_OK);
    CHECK_STATUS(bw_deadline_remaining_ns(d, &rem, NULL), BW_OK);
    CHECK_EQ_U64(rem, 0);
    bw_deadline_free(d);
    /* saturates */
    CHECK_STATUS(bw_deadline_new(clock, UINT64_MAX, &d, NULL), BW_OK);
    CHECK_STATUS(bw_deadline_at_ns(d, &at, NULL), BW_OK);
    CHECK_EQ_U64(at, UINT64_MAX);
    bw_deadline_free(d);
    bw_clock_free(clock);
    /* monotonic by default */
    CHECK_STATUS(bw_deadline_new(NULL, 3600ull * 1000 * MS, &d, NULL), BW_OK);
    CHECK_STATUS(bw_deadline_expired(d, &expired, NULL), BW_OK);
    CHECK(!expired);
    bw_deadline_free(d);
}

TEST(deadline_bad_input) {
    bw_deadline *d = SENTINEL_PTR;
    bw_error e = dirty_error();
    uint64_t v = 7;
    bool b = true;
    CHECK_STATUS(bw_deadline_new(NULL, 1, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    CHECK_STATUS(bw_deadline_remaining_ns(NULL, &v, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "deadline must not be NULL");
    CHECK_STATUS(bw_deadline_expired(NULL, &b, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_deadline_at_ns(NULL, &v, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_deadline_new(NULL, 1, &d, &e), BW_OK);
    CHECK_STATUS(bw_deadline_remaining_ns(d, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out_ns must not be NULL");
    CHECK_STATUS(bw_deadline_expired(d, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_deadline_at_ns(d, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_EQ_U64(v, 7);
    bw_deadline_free(d);
    bw_deadline_free(NULL);
}

int main(void) {
    RUN(defaults_are_three_attempts_doubling_from_500ms);
    RUN(every_backoff_kind_gives_its_schedule);
    RUN(bad_configuration_names_the_field);
    RUN(bad_arguments_are_refused);
    RUN(a_seeded_jittered_schedule_through_begin_next_equals_the_rust_delays);
    RUN(outcomes_stop_with_their_reason_and_stay_stopped);
    RUN(a_retry_after_hint_replaces_a_smaller_delay);
    RUN(a_deadline_stops_a_retry_that_would_end_past_it);
    RUN(the_budget_limits_retries_across_calls);
    RUN(call_retries_and_advances_the_manual_clock);
    RUN(call_returns_the_last_failure);
    RUN(call_stops_when_cancelled);
    RUN(a_cancel_wakes_a_real_wait_at_once);
    RUN(deadline_counts_down_on_its_clock);
    RUN(deadline_bad_input);
    return check_summary();
}
