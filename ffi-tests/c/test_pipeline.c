/*
 * Tests of pipelines through the C ABI: bw_pipeline_builder_* and bw_pipeline_*,
 * including bad input. Stages over the handles of this library (deadline, time
 * limiter, fallback), outermost first. Every blocked callback is released and every
 * handle freed before the program exits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bw_test.h"

#define JSON(s) (s), (sizeof(s) - 1)

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int result;          /* what the callback returns */
    bool block;          /* block until `open` */
    bool open;
    int calls;
    int released;
    uint32_t last_attempt;
    uint64_t last_remaining;
    bool cancelled_seen;
    bool on_caller_thread;
    pthread_t caller;
    bw_clock *advance; /* when set, the callback advances this manual clock by 1 s first */
} job;

static void job_init(job *j, int result) {
    memset(j, 0, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->result = result;
    j->caller = pthread_self();
}

static void job_destroy(job *j) {
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
}

static int guarded(void *ud, const bw_call_info *info) {
    job *j = ud;
    if (j->advance != NULL) CHECK_STATUS(bw_clock_advance_ns(j->advance, 1000000000ull, NULL), BW_OK);
    pthread_mutex_lock(&j->mu);
    j->calls++;
    j->last_attempt = info->attempt;
    j->last_remaining = info->remaining_ns;
    j->on_caller_thread = pthread_equal(pthread_self(), j->caller);
    pthread_cond_broadcast(&j->cv);
    while (j->block && !j->open) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    bool cancelled = false;
    CHECK_STATUS(bw_cancel_is_cancelled(info->cancel, &cancelled, NULL), BW_OK);
    pthread_mutex_lock(&j->mu);
    j->cancelled_seen = cancelled;
    pthread_mutex_unlock(&j->mu);
    return j->result;
}

static void release(void *ud) {
    job *j = ud;
    pthread_mutex_lock(&j->mu);
    j->released++;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void wait_released(job *j) {
    pthread_mutex_lock(&j->mu);
    while (j->released == 0) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

static bw_pipeline *build(bw_pipeline_builder *b) {
    bw_pipeline *p = NULL;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pipeline_builder_build(b, &p, &err), BW_OK);
    CHECK(p != NULL);
    return p;
}

/* ---- an empty pipeline ---- */

TEST(an_empty_pipeline_calls_on_the_calling_thread) {
    bw_pipeline_builder *b = NULL;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pipeline_builder_new(NULL, &b, &err), BW_OK);
    bw_pipeline *p = build(b);
    job j;
    job_init(&j, 5);
    int result = 0;
    CHECK_STATUS(bw_pipeline_call(p, guarded, &j, release, NULL, &result, &err), BW_OK);
    CHECK_EQ_INT(err.status, BW_OK);
    CHECK_EQ_INT(result, 5);
    CHECK_EQ_INT(j.calls, 1);
    CHECK_EQ_INT(j.last_attempt, 1);
    CHECK_EQ_U64(j.last_remaining, UINT64_MAX);
    CHECK(j.on_caller_thread);
    CHECK(!j.cancelled_seen);
    CHECK_EQ_INT(j.released, 1);

    /* A negative result is a failure with that code. */
    j.result = -3;
    result = 99;
    CHECK_STATUS(bw_pipeline_call(p, guarded, &j, NULL, NULL, &result, &err), BW_FAILED);
    CHECK_EQ_INT(result, 99);
    CHECK_STR_EQ(err.message, "the call failed after 1 attempt(s): -3");
    bw_pipeline_free(p);
    bw_pipeline_builder_free(b);
    job_destroy(&j);
}

TEST(bad_input_is_refused) {
    bw_pipeline_builder *b = SENTINEL_PTR;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pipeline_builder_new(NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_new(NULL, &b, &err), BW_OK);

    CHECK_STATUS(bw_pipeline_builder_add_deadline(NULL, 1, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "builder must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_deadline(b, 0, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "deadline_ns must be greater than 0");
    CHECK_STATUS(bw_pipeline_builder_add_time_limiter(NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "builder must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_time_limiter(b, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "tl must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_fallback(NULL, 0, BW_FALLBACK_ON_ALL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "builder must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_fallback(b, 0, 0, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "on must select at least one BW_FALLBACK_ON_* flag");
    CHECK_STATUS(bw_pipeline_builder_add_fallback(b, 0, 8, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "on has unknown bits 0x8 (valid bits: 0x7)");
    CHECK_STATUS(bw_pipeline_builder_build(NULL, NULL, &err), BW_INVALID_ARGUMENT);
    bw_pipeline *p = SENTINEL_PTR;
    CHECK_STATUS(bw_pipeline_builder_build(NULL, &p, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "builder must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_build(b, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK(p == SENTINEL_PTR);

    p = build(b); /* nothing was added by the refused calls */
    job j;
    job_init(&j, 1);
    int result = 99;
    CHECK_STATUS(bw_pipeline_call(NULL, guarded, &j, release, NULL, &result, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "p must not be NULL");
    CHECK_STATUS(bw_pipeline_call(p, NULL, &j, release, NULL, &result, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "callback must not be NULL");
    CHECK_STATUS(bw_pipeline_call(p, guarded, &j, release, NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out_result must not be NULL");
    CHECK_STR_EQ(last_error(), "out_result must not be NULL");
    CHECK_EQ_INT(result, 99);
    CHECK_EQ_INT(j.calls, 0);
    CHECK_EQ_INT(j.released, 0);
    bw_pipeline_free(p);
    bw_pipeline_free(NULL);
    bw_pipeline_builder_free(b);
    bw_pipeline_builder_free(NULL);
    job_destroy(&j);
}

/* ---- stages ---- */

TEST(a_deadline_reaches_the_callback_on_a_manual_clock) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_pipeline_builder *b = NULL;
    CHECK_STATUS(bw_pipeline_builder_new(clock, &b, NULL), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_deadline(b, 2000000000ull, NULL), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_deadline(b, 5000000000ull, NULL), BW_OK); /* cannot widen */
    bw_pipeline *p = build(b);
    job j;
    job_init(&j, 0);
    int result = 99;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pipeline_call(p, guarded, &j, NULL, NULL, &result, &err), BW_OK);
    CHECK_EQ_INT(result, 0);
    CHECK_EQ_U64(j.last_remaining, 2000000000ull);
    bw_pipeline_free(p);
    bw_pipeline_builder_free(b);
    bw_clock_free(clock);
    job_destroy(&j);
}

TEST(a_time_limit_abandons_a_stuck_callback_and_a_fallback_answers) {
    /* On a manual clock the callback itself moves time past the limit once it runs:
     * the time-out is deterministic and the callback has surely started. */
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_time_limiter *tl = NULL;
    CHECK_STATUS(bw_time_limiter_new_json(JSON("{\"name\": \"authors\", \"timeout_ms\": 1, \"max_threads\": 1}"),
                                          clock, &tl, NULL), BW_OK);
    bw_pipeline_builder *b = NULL;
    CHECK_STATUS(bw_pipeline_builder_new(clock, &b, NULL), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_time_limiter(b, tl, NULL), BW_OK);
    bw_time_limiter_free(tl); /* the builder keeps its own reference */
    bw_pipeline *limited = build(b);
    /* The same builder, with a fallback outside: outermost first. */
    bw_pipeline_builder *fb = NULL;
    CHECK_STATUS(bw_pipeline_builder_new(NULL, &fb, NULL), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_fallback(fb, -1, BW_FALLBACK_ON_FAILED, NULL), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_fallback(fb, 404, BW_FALLBACK_ON_TIMED_OUT | BW_FALLBACK_ON_REJECTED, NULL), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_time_limiter(fb, NULL, NULL), BW_INVALID_ARGUMENT);
    bw_pipeline *with_fallback = NULL;
    CHECK_STATUS(bw_pipeline_builder_build(fb, &with_fallback, NULL), BW_OK);

    job j;
    job_init(&j, 8);
    j.block = true;
    j.advance = clock;
    int result = 99;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pipeline_call(limited, guarded, &j, release, NULL, &result, &err), BW_TIMED_OUT);
    CHECK_EQ_INT(err.policy, BW_POLICY_TIME_LIMITER);
    CHECK_EQ_INT(result, 99);
    CHECK_EQ_INT(j.released, 0); /* the callback still runs on the limiter's worker */

    /* The limiter's only worker is stuck: a second call is rejected at once. */
    job k;
    job_init(&k, 1);
    CHECK_STATUS(bw_pipeline_call(limited, guarded, &k, release, NULL, &result, &err), BW_REJECTED);
    CHECK_EQ_INT(err.reason, BW_REASON_QUEUE_FULL);
    CHECK_EQ_INT(k.released, 1);
    CHECK_EQ_INT(k.calls, 0);

    /* Fallback pipelines: a failure answered by the first (outer) stage. */
    k.result = -7;
    CHECK_STATUS(bw_pipeline_call(with_fallback, guarded, &k, NULL, NULL, &result, &err), BW_OK);
    CHECK_EQ_INT(result, -1);
    k.result = 3;
    CHECK_STATUS(bw_pipeline_call(with_fallback, guarded, &k, NULL, NULL, &result, &err), BW_OK);
    CHECK_EQ_INT(result, 3);

    pthread_mutex_lock(&j.mu);
    j.open = true;
    pthread_cond_broadcast(&j.cv);
    pthread_mutex_unlock(&j.mu);
    wait_released(&j);
    CHECK(j.cancelled_seen);
    CHECK(!j.on_caller_thread);
    CHECK_EQ_INT(j.released, 1);

    bw_pipeline_free(limited);
    bw_pipeline_free(with_fallback);
    bw_pipeline_builder_free(b);
    bw_pipeline_builder_free(fb);
    bw_clock_free(clock);
    job_destroy(&j);
    job_destroy(&k);
}

TEST(a_cancelled_call_is_refused) {
    bw_pipeline_builder *b = NULL;
    CHECK_STATUS(bw_pipeline_builder_new(NULL, &b, NULL), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_deadline(b, 1000000000ull, NULL), BW_OK);
    bw_pipeline *p = build(b);
    bw_cancel *cancel = NULL;
    CHECK_STATUS(bw_cancel_new(&cancel, NULL), BW_OK);
    CHECK_STATUS(bw_cancel_cancel(cancel, NULL), BW_OK);
    job j;
    job_init(&j, 1);
    int result = 99;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pipeline_call(p, guarded, &j, release, cancel, &result, &err), BW_CANCELLED);
    CHECK_EQ_INT(err.reason, BW_REASON_CANCELLED);
    CHECK_EQ_INT(j.calls, 0);
    CHECK_EQ_INT(j.released, 1);
    bw_cancel_free(cancel);
    bw_pipeline_free(p);
    bw_pipeline_builder_free(b);
    job_destroy(&j);
}


/* ---- stages over the other policies' handles ---- */

static int failing(void *ud, const bw_call_info *info) {
    int *calls = ud;
    (void)info;
    (*calls)++;
    return -1;
}

TEST(retry_around_a_breaker_returns_the_rejection_at_once) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_error err = dirty_error();
    bw_retry *retry = NULL;
    const char *rj = "{\"max_attempts\": 7, \"backoff\": \"fixed\", \"initial_ms\": 1000}";
    CHECK_STATUS(bw_retry_new_json(rj, strlen(rj), clock, &retry, &err), BW_OK);
    bw_breaker *breaker = NULL;
    const char *bj = "{\"consecutive_failures\": 3,"
                     " \"open_duration_ms\": 30000}";
    CHECK_STATUS(bw_breaker_new_json(bj, strlen(bj), clock, &breaker, &err), BW_OK);
    bw_bulkhead *bulkhead = NULL;
    const char *hj = "{\"max_concurrent\": 2}";
    CHECK_STATUS(bw_bulkhead_new_json(hj, strlen(hj), clock, &bulkhead, &err), BW_OK);
    bw_limiter *limiter = NULL;
    const char *lj = "{\"permits\": 100, \"period_ms\": 1000}";
    CHECK_STATUS(bw_limiter_new_json(lj, strlen(lj), clock, &limiter, &err), BW_OK);

    bw_pipeline_builder *b = NULL;
    CHECK_STATUS(bw_pipeline_builder_new(clock, &b, &err), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_limiter(b, limiter, 0, &err), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_bulkhead(b, bulkhead, &err), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_retry(b, retry, &err), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_breaker(b, breaker, &err), BW_OK);
    bw_pipeline *p = build(b);
    /* The pipeline keeps its policies: the handles may go. */
    bw_retry_free(retry);
    bw_bulkhead_free(bulkhead);
    bw_limiter_free(limiter);

    int calls = 0, result = 42;
    CHECK_STATUS(bw_pipeline_call(p, failing, &calls, NULL, NULL, &result, &err), BW_REJECTED);
    CHECK_EQ_INT(err.policy, BW_POLICY_CIRCUIT_BREAKER);
    CHECK_EQ_INT(err.reason, BW_REASON_OPEN);
    CHECK_EQ_INT(result, 42);
    /* Three attempts ran, the breaker opened, the fourth was refused at once:
       three 1 s delays slept on the manual clock, none after the rejection. */
    CHECK_EQ_INT(calls, 3);
    uint64_t now = 0;
    CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
    CHECK_EQ_U64(now, 3000000000ull);
    uint32_t state = 99;
    CHECK_STATUS(bw_breaker_state(breaker, &state, NULL), BW_OK);
    CHECK_EQ_INT(state, BW_STATE_OPEN);

    bw_pipeline_free(p);
    bw_pipeline_builder_free(b);
    bw_breaker_free(breaker);
    bw_clock_free(clock);
}

TEST(policy_stages_refuse_null_handles) {
    bw_pipeline_builder *b = NULL;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pipeline_builder_new(NULL, &b, &err), BW_OK);
    CHECK_STATUS(bw_pipeline_builder_add_breaker(NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "builder must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_breaker(b, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "breaker must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_retry(NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_pipeline_builder_add_retry(b, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "retry must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_bulkhead(NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_pipeline_builder_add_bulkhead(b, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "bulkhead must not be NULL");
    CHECK_STATUS(bw_pipeline_builder_add_limiter(NULL, NULL, 0, &err), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_pipeline_builder_add_limiter(b, NULL, 0, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "limiter must not be NULL");
    bw_pipeline_builder_free(b);
}

int main(void) {
    RUN(an_empty_pipeline_calls_on_the_calling_thread);
    RUN(bad_input_is_refused);
    RUN(a_deadline_reaches_the_callback_on_a_manual_clock);
    RUN(a_time_limit_abandons_a_stuck_callback_and_a_fallback_answers);
    RUN(a_cancelled_call_is_refused);
    RUN(retry_around_a_breaker_returns_the_rejection_at_once);
    RUN(policy_stages_refuse_null_handles);
    return check_summary();
}
