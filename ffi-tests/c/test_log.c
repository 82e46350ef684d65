/*
 * Tests of bw_set_log_handler: the core's records (a breaker's transitions, its
 * rejections) reach a C handler with the level, target, sentence and fields the core
 * wrote; the level filters; a NULL handler turns records off; records come from every
 * thread that causes them; bad levels are refused.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bw_test.h"

#define MAX_RECORDS 64

typedef struct {
    uint32_t level;
    char target[64];
    char message[256];
    char fields[512];
} record;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static record seen[MAX_RECORDS];
static size_t seen_len = 0;
static size_t handler_calls = 0;

static void copy(char *dst, size_t cap, const char *src, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void collect(const bw_log_record *r, void *user_data) {
    pthread_mutex_lock(&lock);
    handler_calls++;
    /* Only the records of this test's breakers (named log-*). */
    if (user_data == (void *)&seen && seen_len < MAX_RECORDS && strstr(r->fields_json, "\"log-")) {
        record *out = &seen[seen_len++];
        out->level = r->level;
        copy(out->target, sizeof out->target, r->target, r->target_len);
        copy(out->message, sizeof out->message, r->message, r->message_len);
        copy(out->fields, sizeof out->fields, r->fields_json, r->fields_json_len);
        /* The strings are NUL-terminated too. */
        CHECK(r->message[r->message_len] == '\0');
    }
    pthread_mutex_unlock(&lock);
}

static void clear(void) {
    pthread_mutex_lock(&lock);
    seen_len = 0;
    pthread_mutex_unlock(&lock);
}

static bw_breaker *breaker(const char *json, bw_clock *clock) {
    bw_breaker *b = NULL;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_breaker_new_json(json, strlen(json), clock, &b, &e), BW_OK);
    return b;
}

static void fail_once(const bw_breaker *b) {
    bw_permit p;
    if (bw_breaker_try_acquire(b, &p, NULL) == BW_OK) bw_breaker_record(b, p, BW_OUTCOME_FAILURE, NULL);
}

TEST(a_trip_is_logged_with_the_core_sentence) {
    clear();
    bw_error e = dirty_error();
    CHECK_STATUS(bw_set_log_handler(collect, BW_LOG_INFO, &seen, &e), BW_OK);
    CHECK_STR_EQ(e.message, "");
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_breaker *b = breaker("{\"name\":\"log-trip\",\"consecutive_failures\":2,\"open_duration_ms\":1000}", clock);
    fail_once(b);
    fail_once(b);
    /* A rejection is DEBUG: below INFO, not forwarded. */
    bw_permit p;
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, NULL), BW_REJECTED);
    pthread_mutex_lock(&lock);
    CHECK_EQ_U64(seen_len, 1);
    CHECK_EQ_U64(seen[0].level, BW_LOG_WARN);
    CHECK_STR_EQ(seen[0].target, "breakwater::breaker");
    CHECK_STR_EQ(seen[0].message, "breaker log-trip: closed -> open (2 consecutive failures)");
    CHECK(strstr(seen[0].fields, "\"from\":\"closed\"") != NULL);
    CHECK(strstr(seen[0].fields, "\"to\":\"open\"") != NULL);
    pthread_mutex_unlock(&lock);

    /* The open duration passes: half-open is INFO. */
    clear();
    CHECK_STATUS(bw_clock_advance_ns(clock, 1000000000ull, NULL), BW_OK);
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, NULL), BW_OK);
    pthread_mutex_lock(&lock);
    CHECK_EQ_U64(seen_len, 1);
    CHECK_EQ_U64(seen[0].level, BW_LOG_INFO);
    CHECK_STR_EQ(seen[0].message, "breaker log-trip: open -> half-open (open duration elapsed)");
    pthread_mutex_unlock(&lock);
    bw_breaker_free(b);
    bw_clock_free(clock);
    CHECK_STATUS(bw_set_log_handler(NULL, BW_LOG_OFF, NULL, NULL), BW_OK);
}

TEST(debug_level_forwards_rejections) {
    clear();
    CHECK_STATUS(bw_set_log_handler(collect, BW_LOG_DEBUG, &seen, NULL), BW_OK);
    bw_breaker *b = breaker("{\"name\":\"log-reject\",\"consecutive_failures\":1}", NULL);
    CHECK_STATUS(bw_breaker_force_open(b, NULL), BW_OK);
    bw_permit p;
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, NULL), BW_REJECTED);
    pthread_mutex_lock(&lock);
    CHECK_EQ_U64(seen_len, 2); /* forced open (WARN), then the rejection (DEBUG) */
    CHECK_EQ_U64(seen[1].level, BW_LOG_DEBUG);
    CHECK(strstr(seen[1].message, "log-reject") != NULL);
    pthread_mutex_unlock(&lock);
    bw_breaker_free(b);
    CHECK_STATUS(bw_set_log_handler(NULL, BW_LOG_OFF, NULL, NULL), BW_OK);
}

TEST(off_means_no_call_at_all) {
    clear();
    pthread_mutex_lock(&lock);
    size_t before = handler_calls;
    pthread_mutex_unlock(&lock);
    /* A handler with level OFF is never called. */
    CHECK_STATUS(bw_set_log_handler(collect, BW_LOG_OFF, &seen, NULL), BW_OK);
    bw_breaker *b = breaker("{\"name\":\"log-off\",\"consecutive_failures\":1}", NULL);
    fail_once(b);
    CHECK_STATUS(bw_set_log_handler(NULL, BW_LOG_TRACE, &seen, NULL), BW_OK);
    CHECK_STATUS(bw_breaker_reset(b, NULL), BW_OK);
    pthread_mutex_lock(&lock);
    CHECK_EQ_U64(handler_calls, before);
    pthread_mutex_unlock(&lock);
    bw_breaker_free(b);
}

#define THREADS 4

static void *trip_own(void *arg) {
    char json[128];
    snprintf(json, sizeof json, "{\"name\":\"log-thread-%d\",\"consecutive_failures\":1}", *(int *)arg);
    bw_breaker *b = breaker(json, NULL);
    fail_once(b);
    bw_breaker_free(b);
    return NULL;
}

TEST(records_come_from_every_thread) {
    clear();
    CHECK_STATUS(bw_set_log_handler(collect, BW_LOG_WARN, &seen, NULL), BW_OK);
    pthread_t threads[THREADS];
    int ids[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ids[i] = i;
        CHECK_EQ_INT(pthread_create(&threads[i], NULL, trip_own, &ids[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    pthread_mutex_lock(&lock);
    CHECK_EQ_U64(seen_len, THREADS);
    pthread_mutex_unlock(&lock);
    CHECK_STATUS(bw_set_log_handler(NULL, BW_LOG_OFF, NULL, NULL), BW_OK);
}

TEST(bad_levels_are_refused_and_levels_are_named) {
    bw_error e = dirty_error();
    CHECK_STATUS(bw_set_log_handler(collect, BW_LOG_TRACE + 1, &seen, &e), BW_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "max_level") != NULL);
    CHECK_STR_EQ(last_error(), e.message);
    CHECK_STR_EQ(bw_log_level_name(BW_LOG_OFF), "off");
    CHECK_STR_EQ(bw_log_level_name(BW_LOG_ERROR), "error");
    CHECK_STR_EQ(bw_log_level_name(BW_LOG_DEBUG), "debug");
    CHECK(bw_log_level_name(BW_LOG_TRACE + 1) == NULL);
}

int main(void) {
    RUN(a_trip_is_logged_with_the_core_sentence);
    RUN(debug_level_forwards_rejections);
    RUN(off_means_no_call_at_all);
    RUN(records_come_from_every_thread);
    RUN(bad_levels_are_refused_and_levels_are_named);
    return check_summary();
}
