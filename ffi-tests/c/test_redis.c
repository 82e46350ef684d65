/*
 * Tests of the shared (Redis-backed) breaker and rate limiter exports.
 *
 * In a library built without the redis feature every bw_shared_* function must fail with
 * BW_INVALID_CONFIG ("built without the redis feature"): that is all this program checks
 * there. With the feature: bad input, an unreachable server (works locally, degraded),
 * and, when BW_REDIS_URL names a running redis-server (scripts/suites/redis.sh starts
 * one), two handles with separate state sharing a trip, the shared limiter's quota, and
 * a registry's Prometheus-exported shared breaker. Without BW_REDIS_URL those are
 * skipped with a message.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bw_test.h"

#define J(s) (s), sizeof(s) - 1
#define UNREACHABLE "redis://127.0.0.1:1/"

static char json[1024];

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A unique key prefix per run, so that reruns against one server do not share state. */
static const char *prefix(void) {
    static char p[64];
    if (p[0] == 0) snprintf(p, sizeof p, "ctest%ld", (long)getpid());
    return p;
}

static bw_shared_breaker *new_breaker(const char *text) {
    bw_shared_breaker *b = NULL;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_shared_breaker_new_json(text, strlen(text), &b, &e), BW_OK);
    CHECK_STR_EQ(e.message, "");
    if (b == NULL) fprintf(stderr, "  (%s)\n", last_error());
    return b;
}

static bw_shared_breaker_stats breaker_stats(bw_shared_breaker *b) {
    bw_shared_breaker_stats m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    CHECK_STATUS(bw_shared_breaker_metrics(b, &m, NULL), BW_OK);
    CHECK_EQ_U64(m.size, sizeof m);
    return m;
}

static int fail(void *user_data) {
    (void)user_data;
    return 1;
}

static int succeed(void *user_data) {
    int *calls = user_data;
    ++*calls;
    return 0;
}

TEST(without_the_feature_every_function_says_so) {
    bw_shared_breaker *b = SENTINEL_PTR;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_shared_breaker_new_json(J("{}"), &b, &e), BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "built without the redis feature") != NULL);
    CHECK(b == SENTINEL_PTR);
    bw_shared_rate_limiter *l = SENTINEL_PTR;
    CHECK_STATUS(bw_shared_rate_limiter_new_json(J("{}"), &l, &e), BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "built without the redis feature") != NULL);
    CHECK(bw_shared_rate_limiter_config_schema_json() == NULL);
    CHECK_STR_EQ(bw_redis_health_name(BW_REDIS_DEGRADED), "DEGRADED");
}

TEST(the_defaults_come_from_the_library) {
    const char *d = bw_shared_breaker_config_defaults_json();
    CHECK(d != NULL);
    CHECK(strstr(d, "\"redis_url\":\"redis://127.0.0.1:6379/\"") != NULL);
    CHECK(strstr(d, "\"consecutive_failures\":5") != NULL);
    CHECK(strstr(d, "\"key_prefix\":\"breakwater\"") != NULL);
    const char *l = bw_shared_rate_limiter_config_defaults_json();
    CHECK(l != NULL && strstr(l, "\"lease\":1") != NULL && strstr(l, "\"permits\":100") != NULL);
    CHECK(strstr(bw_shared_breaker_config_schema_json(), "\"op_timeout_ms\"") != NULL);
    CHECK_STR_EQ(bw_redis_health_name(BW_REDIS_HEALTHY), "UP");
    CHECK(bw_redis_health_name(2) == NULL);
}

TEST(bad_configuration_is_a_clear_error) {
    bw_shared_breaker *b = SENTINEL_PTR;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_shared_breaker_new_json(J("{\"redis_url\": \"http://x\"}"), &b, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "redis_url") != NULL);
    CHECK(strstr(e.message, "scheme") != NULL);
    CHECK(b == SENTINEL_PTR);
    CHECK_STATUS(bw_shared_breaker_new_json(J("{\"redis_ur\": \"redis://h/\"}"), &b, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "\"redis_ur\"") != NULL);
    CHECK_STATUS(bw_shared_breaker_new_json(J("{\"op_timeout_ms\": 0}"), &b, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "op_timeout_ms") != NULL);
    CHECK_EQ_INT(e.policy, BW_POLICY_CIRCUIT_BREAKER);
    CHECK_STATUS(bw_shared_breaker_new_json(J("{\"key_prefix\": \"a{b\"}"), &b, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "key_prefix") != NULL);
    CHECK_STATUS(bw_shared_breaker_new_json(
                     J("{\"failure_rate\": {\"threshold\": 0.5, \"window\": {\"count\": 100}}}"),
                     &b, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "failure_rate.window") != NULL);
    bw_shared_rate_limiter *l = SENTINEL_PTR;
    CHECK_STATUS(bw_shared_rate_limiter_new_json(J("{\"permits\": 10, \"lease\": 11}"), &l, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "lease") != NULL);
    CHECK_EQ_INT(e.policy, BW_POLICY_RATE_LIMITER);
    CHECK(l == SENTINEL_PTR);
}

TEST(bad_arguments_are_refused) {
    bw_error e = dirty_error();
    CHECK_STATUS(bw_shared_breaker_new_json(J("{}"), NULL, &e), BW_INVALID_ARGUMENT);
    bw_shared_permit p;
    CHECK_STATUS(bw_shared_breaker_try_acquire(NULL, &p, &e), BW_INVALID_ARGUMENT);
    uint32_t s = 0;
    CHECK_STATUS(bw_shared_breaker_state(NULL, &s, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_shared_rate_limiter_try_acquire(NULL, NULL, &e), BW_INVALID_ARGUMENT);
    bw_shared_breaker_free(NULL);
    bw_shared_rate_limiter_free(NULL);
    snprintf(json, sizeof json, "{\"redis_url\": \"%s\"}", UNREACHABLE);
    bw_shared_breaker *b = new_breaker(json);
    CHECK_STATUS(bw_shared_breaker_try_acquire(b, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_shared_breaker_record(b, p, 7, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_shared_breaker_call(b, NULL, NULL, NULL, &e), BW_INVALID_ARGUMENT);
    bw_shared_breaker_stats m;
    m.size = 1;
    CHECK_STATUS(bw_shared_breaker_metrics(b, &m, &e), BW_INVALID_ARGUMENT);
    /* A zeroed permit is stale. */
    bw_shared_permit zero;
    memset(&zero, 0, sizeof zero);
    CHECK_STATUS(bw_shared_breaker_record(b, zero, BW_OUTCOME_SUCCESS, &e), BW_STALE);
    bw_shared_breaker_free(b);
}

TEST(an_unreachable_redis_works_locally_and_reports_degraded) {
    snprintf(json, sizeof json,
             "{\"name\": \"authors\", \"consecutive_failures\": 2, \"redis_url\": \"%s\", "
             "\"op_timeout_ms\": 50}",
             UNREACHABLE);
    bw_shared_breaker *b = new_breaker(json);
    uint32_t health = 99;
    CHECK_STATUS(bw_shared_breaker_health(b, &health, NULL), BW_OK);
    CHECK_EQ_INT(health, BW_REDIS_DEGRADED);
    int calls = 0, result = -1;
    CHECK_STATUS(bw_shared_breaker_call(b, succeed, &calls, &result, NULL), BW_OK);
    CHECK_EQ_INT(calls, 1);
    CHECK_EQ_INT(result, 0);
    bw_shared_permit p;
    CHECK_STATUS(bw_shared_breaker_try_acquire(b, &p, NULL), BW_OK);
    CHECK(p.local);
    CHECK_STATUS(bw_shared_breaker_record(b, p, BW_OUTCOME_FAILURE, NULL), BW_OK);
    bw_error e = dirty_error();
    CHECK_STATUS(bw_shared_breaker_call(b, fail, NULL, &result, &e), BW_FAILED);
    CHECK_EQ_INT(result, 1);
    /* The local fallback trips on its own failures. */
    CHECK_STATUS(bw_shared_breaker_call(b, succeed, &calls, NULL, &e), BW_REJECTED);
    CHECK_EQ_INT(e.reason, BW_REASON_OPEN);
    CHECK_EQ_INT(calls, 1);
    uint32_t state = 99;
    CHECK_STATUS(bw_shared_breaker_state(b, &state, NULL), BW_OK);
    CHECK_EQ_INT(state, BW_STATE_OPEN);
    bw_shared_breaker_stats m = breaker_stats(b);
    CHECK_EQ_INT(m.health, BW_REDIS_DEGRADED);
    CHECK_EQ_U64(m.total_failures, 2);
    CHECK_EQ_U64(m.rejected_open, 1);
    CHECK(m.redis_errors >= 1);
    CHECK(m.redis_degraded >= 1);
    /* What must reach Redis says it could not. */
    CHECK_STATUS(bw_shared_breaker_flush(b, &e), BW_FAILED);
    CHECK(strstr(e.message, "redis unreachable") != NULL);
    bw_shared_breaker_free(b);

    snprintf(json, sizeof json,
             "{\"permits\": 2, \"period_ms\": 60000, \"redis_url\": \"%s\", \"op_timeout_ms\": 50}",
             UNREACHABLE);
    bw_shared_rate_limiter *l = NULL;
    CHECK_STATUS(bw_shared_rate_limiter_new_json(json, strlen(json), &l, NULL), BW_OK);
    CHECK_STATUS(bw_shared_rate_limiter_try_acquire(l, NULL, NULL), BW_OK);
    CHECK_STATUS(bw_shared_rate_limiter_try_acquire(l, NULL, NULL), BW_OK);
    uint64_t ra = 0;
    CHECK_STATUS(bw_shared_rate_limiter_try_acquire(l, &ra, &e), BW_REJECTED);
    CHECK_EQ_INT(e.reason, BW_REASON_RATE_LIMITED);
    CHECK(ra > 0);
    CHECK_STATUS(bw_shared_rate_limiter_health(l, &health, NULL), BW_OK);
    CHECK_EQ_INT(health, BW_REDIS_DEGRADED);
    bw_shared_rate_limiter_free(l);
}

/* --- against a real redis-server (BW_REDIS_URL) --- */

TEST(two_handles_share_a_trip) {
    const char *url = getenv("BW_REDIS_URL");
    snprintf(json, sizeof json,
             "{\"name\": \"trip\", \"consecutive_failures\": 3, \"open_duration_ms\": 60000, "
             "\"redis_url\": \"%s\", \"key_prefix\": \"%s\"}",
             url, prefix());
    /* Two breakers with separate local state (as in two processes), one shared state. */
    bw_shared_breaker *a = new_breaker(json);
    bw_shared_breaker *b = new_breaker(json);
    uint32_t health = 99;
    CHECK_STATUS(bw_shared_breaker_health(a, &health, NULL), BW_OK);
    CHECK_EQ_INT(health, BW_REDIS_HEALTHY);
    int calls = 0;
    CHECK_STATUS(bw_shared_breaker_call(b, succeed, &calls, NULL, NULL), BW_OK);
    for (int i = 0; i < 3; i++) {
        bw_shared_permit p;
        CHECK_STATUS(bw_shared_breaker_try_acquire(a, &p, NULL), BW_OK);
        CHECK(!p.local);
        CHECK(p.generation >= 1);
        CHECK_STATUS(bw_shared_breaker_record(a, p, BW_OUTCOME_FAILURE, NULL), BW_OK);
    }
    CHECK_STATUS(bw_shared_breaker_flush(a, NULL), BW_OK);
    uint32_t state = 99;
    CHECK_STATUS(bw_shared_breaker_state(a, &state, NULL), BW_OK);
    CHECK_EQ_INT(state, BW_STATE_OPEN);
    /* b learns of the trip (pub/sub, or the poll) and rejects without being told. */
    bw_status s = BW_OK;
    bw_error e = dirty_error();
    for (int i = 0; i < 1000 && s == BW_OK; i++) {
        s = bw_shared_breaker_call(b, succeed, &calls, NULL, &e);
        if (s == BW_OK) sleep_ms(10);
    }
    CHECK_STATUS(s, BW_REJECTED);
    CHECK_EQ_INT(e.reason, BW_REASON_OPEN);
    CHECK(e.has_retry_after);
    bw_shared_breaker_stats ma = breaker_stats(a), mb = breaker_stats(b);
    CHECK_EQ_U64(ma.opened, 1);
    CHECK_EQ_U64(mb.opened, 1);
    CHECK_EQ_U64(ma.generation, mb.generation);
    CHECK(mb.rejected_open >= 1);
    CHECK(ma.redis_commands >= 1);
    /* A reset by one reaches the other. */
    CHECK_STATUS(bw_shared_breaker_reset(b, NULL), BW_OK);
    s = BW_REJECTED;
    for (int i = 0; i < 1000 && s != BW_OK; i++) {
        s = bw_shared_breaker_call(a, succeed, &calls, NULL, NULL);
        if (s != BW_OK) sleep_ms(10);
    }
    CHECK_STATUS(s, BW_OK);
    bw_shared_breaker_free(a);
    bw_shared_breaker_free(b);
}

TEST(the_fleet_counts_are_exact_after_a_flush) {
    const char *url = getenv("BW_REDIS_URL");
    snprintf(json, sizeof json,
             "{\"name\": \"counts\", \"consecutive_failures\": 1000, \"redis_url\": \"%s\", "
             "\"key_prefix\": \"%s\", \"flush_interval_ms\": 1000}",
             url, prefix());
    bw_shared_breaker *a = new_breaker(json);
    bw_shared_breaker *b = new_breaker(json);
    int calls = 0;
    for (int i = 0; i < 30; i++) {
        CHECK_STATUS(bw_shared_breaker_call(i % 2 ? a : b, succeed, &calls, NULL, NULL), BW_OK);
    }
    CHECK_STATUS(bw_shared_breaker_flush(b, NULL), BW_OK);
    CHECK_STATUS(bw_shared_breaker_flush(a, NULL), BW_OK);
    for (int i = 0; i < 4; i++) {
        CHECK_STATUS(bw_shared_breaker_call(a, fail, NULL, NULL, NULL), BW_FAILED);
    }
    CHECK_STATUS(bw_shared_breaker_flush(a, NULL), BW_OK);
    bw_shared_breaker_stats m = breaker_stats(a);
    CHECK_EQ_U64(m.fleet_successes, 30);
    CHECK_EQ_U64(m.fleet_failures, 4);
    CHECK_EQ_U64(m.fleet_consecutive_failures, 4);
    CHECK_EQ_U64(m.total_successes, 15);
    CHECK_EQ_U64(m.total_failures, 4);
    bw_shared_breaker_free(a);
    bw_shared_breaker_free(b);
}

TEST(the_shared_limiter_holds_a_fleet_quota) {
    const char *url = getenv("BW_REDIS_URL");
    snprintf(json, sizeof json,
             "{\"name\": \"quota\", \"permits\": 5, \"period_ms\": 60000, \"redis_url\": \"%s\", "
             "\"key_prefix\": \"%s\"}",
             url, prefix());
    bw_shared_rate_limiter *a = NULL, *b = NULL;
    CHECK_STATUS(bw_shared_rate_limiter_new_json(json, strlen(json), &a, NULL), BW_OK);
    CHECK_STATUS(bw_shared_rate_limiter_new_json(json, strlen(json), &b, NULL), BW_OK);
    int granted = 0;
    for (int i = 0; i < 10; i++) {
        if (bw_shared_rate_limiter_try_acquire(i % 2 ? a : b, NULL, NULL) == BW_OK) granted++;
    }
    CHECK_EQ_INT(granted, 5);
    bw_error e = dirty_error();
    CHECK_STATUS(bw_shared_rate_limiter_acquire_timeout(a, 1000000, NULL, &e), BW_REJECTED);
    CHECK(e.retry_after_ns > 1000000);
    bw_shared_limiter_stats m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    CHECK_STATUS(bw_shared_rate_limiter_metrics(a, &m, NULL), BW_OK);
    CHECK_EQ_INT(m.health, BW_REDIS_HEALTHY);
    CHECK_EQ_U64(m.overshoot_bound, 0);
    CHECK(m.redis_commands >= 1);
    CHECK_EQ_U64(m.permitted + m.rejected, 6);
    bw_shared_rate_limiter_free(a);
    bw_shared_rate_limiter_free(b);
}

TEST(a_registry_shares_its_shared_breaker_by_name) {
    const char *url = getenv("BW_REDIS_URL");
    bw_registry *r = NULL;
    CHECK_STATUS(bw_registry_new(&r, NULL), BW_OK);
    snprintf(json, sizeof json, "{\"consecutive_failures\": 1, \"redis_url\": \"%s\", \"key_prefix\": \"%s\"}",
             url, prefix());
    bw_shared_breaker *a = NULL, *b = NULL;
    CHECK_STATUS(bw_registry_shared_breaker(r, J("reg"), json, strlen(json), &a, NULL), BW_OK);
    /* No configuration: the registered one. */
    CHECK_STATUS(bw_registry_shared_breaker(r, J("reg"), NULL, 0, &b, NULL), BW_OK);
    CHECK_STATUS(bw_shared_breaker_call(a, fail, NULL, NULL, NULL), BW_FAILED);
    CHECK_STATUS(bw_shared_breaker_flush(a, NULL), BW_OK);
    uint32_t state = 99;
    CHECK_STATUS(bw_shared_breaker_state(b, &state, NULL), BW_OK);
    CHECK_EQ_INT(state, BW_STATE_OPEN); /* same breaker: no notification needed */
    bw_error e = dirty_error();
    snprintf(json, sizeof json, "{\"consecutive_failures\": 2, \"redis_url\": \"%s\", \"key_prefix\": \"%s\"}",
             url, prefix());
    bw_shared_breaker *c = SENTINEL_PTR;
    CHECK_STATUS(bw_registry_shared_breaker(r, J("reg"), json, strlen(json), &c, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "already registered") != NULL);
    CHECK(c == SENTINEL_PTR);
    bw_shared_rate_limiter *l = NULL;
    CHECK_STATUS(bw_registry_shared_rate_limiter(r, J("reg"), NULL, 0, &l, NULL), BW_OK);
    CHECK_STATUS(bw_shared_rate_limiter_try_acquire(l, NULL, NULL), BW_OK);
    bw_shared_rate_limiter_free(l);
    bw_shared_breaker_free(a);
    bw_shared_breaker_free(b);
    bw_registry_free(r);
}

int main(void) {
    if (bw_shared_breaker_config_defaults_json() == NULL) {
        printf("the library was built without the redis feature\n");
        RUN(without_the_feature_every_function_says_so);
        return check_summary();
    }
    RUN(the_defaults_come_from_the_library);
    RUN(bad_configuration_is_a_clear_error);
    RUN(bad_arguments_are_refused);
    RUN(an_unreachable_redis_works_locally_and_reports_degraded);
    const char *url = getenv("BW_REDIS_URL");
    if (url == NULL || *url == 0) {
        printf("SKIPPED: the tests against a redis-server (BW_REDIS_URL is not set; "
               "scripts/suites/redis.sh starts a server and sets it)\n");
        return check_summary();
    }
    RUN(two_handles_share_a_trip);
    RUN(the_fleet_counts_are_exact_after_a_flush);
    RUN(the_shared_limiter_holds_a_fleet_quota);
    RUN(a_registry_shares_its_shared_breaker_by_name);
    return check_summary();
}
