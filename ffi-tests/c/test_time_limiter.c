/*
 * Tests of the time limiter through the C ABI: bw_time_limiter_*, including bad input.
 * A never-returning callback (blocked on a condition variable until the end of its test)
 * gives BW_TIMED_OUT and sees its cancel flag set; 100 such calls with max_threads 8
 * never create more than 8 threads; `release` is called exactly once per call. Every
 * blocked callback is released and every handle freed before the program exits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "bw_test.h"

#define JSON(s) (s), (sizeof(s) - 1)
#define MAX_SEEN 128

/* Shared state of the callbacks of one test. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;           /* blocked callbacks return once set */
    int entered;         /* callbacks started */
    int returned;        /* callbacks returned */
    int released;        /* release() calls */
    int saw_cancelled;   /* callbacks that saw their cancel flag set when let go */
    pthread_t seen[MAX_SEEN];
    int threads;         /* distinct threads callbacks ran on */
} state;

static void state_init(state *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void state_destroy(state *s) {
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static void note_thread(state *s) {
    pthread_t me = pthread_self();
    for (int i = 0; i < s->threads; i++)
        if (pthread_equal(s->seen[i], me)) return;
    if (s->threads < MAX_SEEN) s->seen[s->threads++] = me;
}

static int quick(void *ud, const bw_cancel *cancel) {
    state *s = ud;
    bool cancelled = true;
    bw_cancel_is_cancelled(cancel, &cancelled, NULL);
    pthread_mutex_lock(&s->mu);
    s->entered++;
    note_thread(s);
    s->returned++;
    pthread_mutex_unlock(&s->mu);
    return cancelled ? -1 : 42;
}

/* Blocks until the test opens the gate: a "never-returning" call. */
static int blocked(void *ud, const bw_cancel *cancel) {
    state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->entered++;
    note_thread(s);
    pthread_cond_broadcast(&s->cv);
    while (!s->open) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    bool cancelled = false;
    bw_cancel_is_cancelled(cancel, &cancelled, NULL);
    pthread_mutex_lock(&s->mu);
    if (cancelled) s->saw_cancelled++;
    s->returned++;
    pthread_mutex_unlock(&s->mu);
    return 7;
}

static void release(void *ud) {
    state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->released++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void open_gate(state *s) {
    pthread_mutex_lock(&s->mu);
    s->open = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void wait_released(state *s, int n) {
    pthread_mutex_lock(&s->mu);
    while (s->released < n) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static bw_time_limiter *new_limiter(const char *json, size_t len) {
    bw_time_limiter *tl = NULL;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_time_limiter_new_json(json, len, NULL, &tl, &err), BW_OK);
    CHECK(tl != NULL);
    return tl;
}

/* ---- construction ---- */

TEST(new_json_accepts_a_configuration_and_defaults) {
    bw_time_limiter *tl = new_limiter(JSON("{\"name\": \"authors\", \"timeout_ms\": 5000, \"max_threads\": 2}"));
    bw_time_limiter_stats m;
    m.size = sizeof m;
    memset(&m, 0xff, sizeof m);
    CHECK_STATUS(bw_time_limiter_metrics(tl, &m, NULL), BW_OK);
    CHECK_EQ_U64(m.timed_out, 0);
    CHECK_EQ_U64(m.rejected, 0);
    CHECK_EQ_INT(m.threads_spawned, 0);
    CHECK_EQ_INT(m.busy, 0);
    bw_time_limiter_free(tl);

    tl = new_limiter(NULL, 0);
    bw_time_limiter_free(tl);

    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    tl = NULL;
    CHECK_STATUS(bw_time_limiter_new_json(JSON("{}"), clock, &tl, NULL), BW_OK);
    bw_clock_free(clock);
    bw_time_limiter_free(tl);
}

TEST(new_json_refuses_bad_configurations) {
    bw_time_limiter *tl = SENTINEL_PTR;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_time_limiter_new_json(JSON("{\"timeout_ms\": 0}"), NULL, &tl, &err), BW_INVALID_CONFIG);
    CHECK_EQ_INT(err.policy, BW_POLICY_TIME_LIMITER);
    CHECK(strstr(err.message, "timeout") != NULL);
    CHECK_STATUS(bw_time_limiter_new_json(JSON("{\"max_threads\": 0}"), NULL, &tl, &err), BW_INVALID_CONFIG);
    CHECK(strstr(err.message, "max_threads") != NULL);
    CHECK_STATUS(bw_time_limiter_new_json(JSON("{\"timeout_ms\": \"1s\"}"), NULL, &tl, &err), BW_INVALID_CONFIG);
    CHECK_STR_PREFIX(err.message, "invalid time limiter configuration: timeout_ms:");
    CHECK_STATUS(bw_time_limiter_new_json(JSON("{\"timeout\": 1}"), NULL, &tl, &err), BW_INVALID_CONFIG);
    CHECK_STR_EQ(err.message, "invalid time limiter configuration: unknown key \"timeout\" (did you mean \"timeout_ms\"?)");
    CHECK(tl == SENTINEL_PTR);
    CHECK_STATUS(bw_time_limiter_new_json(NULL, 1, NULL, &tl, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "json must not be NULL when json_len is not 0");
    CHECK_STATUS(bw_time_limiter_new_json(NULL, 0, NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK(tl == SENTINEL_PTR);
}

/* ---- calls ---- */

TEST(a_quick_call_returns_its_value_and_releases_once) {
    bw_time_limiter *tl = new_limiter(JSON("{\"name\": \"quick\", \"timeout_ms\": 60000}"));
    state s;
    state_init(&s);
    int result = 0;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_time_limiter_call(tl, quick, &s, release, NULL, &result, &err), BW_OK);
    CHECK_EQ_INT(err.status, BW_OK);
    CHECK_EQ_INT(result, 42);
    wait_released(&s, 1);
    CHECK_EQ_INT(s.returned, 1);
    CHECK(!pthread_equal(s.seen[0], pthread_self())); /* ran on a worker */
    /* Without release. */
    CHECK_STATUS(bw_time_limiter_call(tl, quick, &s, NULL, NULL, &result, &err), BW_OK);
    CHECK_EQ_INT(result, 42);
    CHECK_EQ_INT(s.threads, 1); /* the idle worker was reused */
    bw_time_limiter_stats m;
    m.size = sizeof m;
    CHECK_STATUS(bw_time_limiter_metrics(tl, &m, &err), BW_OK);
    CHECK_EQ_INT(m.threads_spawned, 1);
    bw_time_limiter_free(tl);
    CHECK_EQ_INT(s.released, 1);
    state_destroy(&s);
}

TEST(call_refuses_null_arguments_without_releasing) {
    bw_time_limiter *tl = new_limiter(JSON("{}"));
    state s;
    state_init(&s);
    int result = 99;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_time_limiter_call(NULL, quick, &s, release, NULL, &result, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "tl must not be NULL");
    CHECK_STATUS(bw_time_limiter_call(tl, NULL, &s, release, NULL, &result, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "callback must not be NULL");
    CHECK_STATUS(bw_time_limiter_call(tl, quick, &s, release, NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out_result must not be NULL");
    CHECK_STR_EQ(last_error(), "out_result must not be NULL");
    CHECK_EQ_INT(result, 99);
    CHECK_EQ_INT(s.released, 0);
    CHECK_EQ_INT(s.entered, 0);
    bw_time_limiter_stats m;
    m.size = sizeof m;
    CHECK_STATUS(bw_time_limiter_metrics(NULL, &m, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "h must not be NULL");
    CHECK_STATUS(bw_time_limiter_metrics(tl, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    bw_time_limiter_free(tl);
    bw_time_limiter_free(NULL);
    state_destroy(&s);
}

TEST(a_never_returning_callback_times_out_and_sees_its_cancel_flag) {
    bw_time_limiter *tl = new_limiter(JSON("{\"name\": \"stuck\", \"timeout_ms\": 1, \"max_threads\": 1}"));
    state s;
    state_init(&s);
    int result = 99;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_time_limiter_call(tl, blocked, &s, release, NULL, &result, &err), BW_TIMED_OUT);
    CHECK_EQ_INT(err.policy, BW_POLICY_TIME_LIMITER);
    CHECK_STR_EQ(err.message, "time limiter: the call timed out");
    CHECK_EQ_INT(result, 99);
    CHECK_EQ_INT(s.released, 0); /* the callback still runs: user_data is still in use */

    /* Its worker is still taken: the next call is rejected at once and released here. */
    CHECK_STATUS(bw_time_limiter_call(tl, quick, &s, release, NULL, &result, &err), BW_REJECTED);
    CHECK_EQ_INT(err.reason, BW_REASON_QUEUE_FULL);
    CHECK_EQ_INT(s.released, 1);

    open_gate(&s);
    wait_released(&s, 2);
    CHECK_EQ_INT(s.saw_cancelled, 1);
    CHECK_EQ_INT(s.returned, 1);
    bw_time_limiter_free(tl);
    state_destroy(&s);
}

TEST(a_hundred_stuck_calls_never_create_more_than_8_threads) {
    bw_time_limiter *tl = new_limiter(JSON("{\"name\": \"bounded\", \"timeout_ms\": 1, \"max_threads\": 8}"));
    state s;
    state_init(&s);
    int timed_out = 0, rejected = 0, other = 0;
    for (int i = 0; i < 100; i++) {
        int result = 0;
        bw_error err = dirty_error();
        bw_status st = bw_time_limiter_call(tl, blocked, &s, release, NULL, &result, &err);
        if (st == BW_TIMED_OUT) timed_out++;
        else if (st == BW_REJECTED && err.reason == BW_REASON_QUEUE_FULL) rejected++;
        else other++;
    }
    /* Every worker is busy after its first call, so at least 8 calls time out and the
     * rest are refused at once. Under load a worker may not have started a call before
     * its 1 ms deadline: that call times out without entering, the worker stays free and
     * takes another, so more than 8 can time out. Never more than 8 threads. */
    CHECK(timed_out >= 8);
    CHECK_EQ_INT(timed_out + rejected, 100);
    CHECK_EQ_INT(other, 0);
    bw_time_limiter_stats m;
    m.size = sizeof m;
    CHECK_STATUS(bw_time_limiter_metrics(tl, &m, NULL), BW_OK);
    CHECK(m.threads_spawned <= 8);
    CHECK(m.busy <= 8);
    CHECK_EQ_U64(m.timed_out, (uint64_t)timed_out);
    CHECK_EQ_U64(m.rejected, (uint64_t)rejected);
    pthread_mutex_lock(&s.mu);
    CHECK(s.released >= rejected); /* the rejected calls, at once */
    pthread_mutex_unlock(&s.mu);

    open_gate(&s);
    wait_released(&s, 100);
    CHECK(s.threads <= 8); /* distinct threads the callbacks ran on */
    CHECK(s.entered >= 1 && s.entered <= 8);
    CHECK_EQ_INT(s.saw_cancelled, s.entered);
    /* The late results are counted once each worker has published (poll, no sleep). */
    for (long spins = 0; spins < 100000000L; spins++) {
        CHECK_STATUS(bw_time_limiter_metrics(tl, &m, NULL), BW_OK);
        if (m.late_results_dropped == (uint64_t)s.entered && m.busy == 0) break;
        sched_yield();
    }
    CHECK_EQ_U64(m.late_results_dropped, (uint64_t)s.entered);
    CHECK_EQ_INT(m.busy, 0);
    CHECK(m.threads_spawned <= 8);
    bw_time_limiter_free(tl);
    state_destroy(&s);
}

TEST(a_cancelled_call_is_refused_and_released) {
    bw_time_limiter *tl = new_limiter(JSON("{}"));
    state s;
    state_init(&s);
    bw_cancel *cancel = NULL;
    CHECK_STATUS(bw_cancel_new(&cancel, NULL), BW_OK);
    CHECK_STATUS(bw_cancel_cancel(cancel, NULL), BW_OK);
    int result = 99;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_time_limiter_call(tl, quick, &s, release, cancel, &result, &err), BW_CANCELLED);
    CHECK_EQ_INT(err.reason, BW_REASON_CANCELLED);
    CHECK_EQ_INT(err.policy, BW_POLICY_TIME_LIMITER);
    CHECK_EQ_INT(result, 99);
    CHECK_EQ_INT(s.entered, 0);
    CHECK_EQ_INT(s.released, 1);
    bw_cancel_free(cancel);
    bw_time_limiter_free(tl);
    state_destroy(&s);
}

int main(void) {
    RUN(new_json_accepts_a_configuration_and_defaults);
    RUN(new_json_refuses_bad_configurations);
    RUN(a_quick_call_returns_its_value_and_releases_once);
    RUN(call_refuses_null_arguments_without_releasing);
    RUN(a_never_returning_callback_times_out_and_sees_its_cancel_flag);
    RUN(a_hundred_stuck_calls_never_create_more_than_8_threads);
    RUN(a_cancelled_call_is_refused_and_released);
    return check_summary();
}
