/*
 * Tests of the registry exports: named breakers, bulkheads and rate limiters shared by
 * name; the Prometheus text and the JSON health report of a known registry (exact
 * text); the transition sentence of bw_breaker_describe_transition; the copy convention
 * (buffer too small, NULL arguments); bad JSON and configuration conflicts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "bw_test.h"

#define MS 1000000ull
#define J(s) (s), sizeof(s) - 1

typedef bw_status (*text_fn)(const bw_registry *, char *, size_t, size_t *, bw_error *);

/* The whole text of `fn` (malloc'd; free it), asked for with the two-call pattern. */
static char *text_of(text_fn fn, const bw_registry *reg) {
    size_t n = 0;
    bw_error e = dirty_error();
    CHECK_STATUS(fn(reg, NULL, 0, &n, &e), BW_BUFFER_TOO_SMALL);
    char *buf = malloc(n + 1);
    size_t m = 0;
    CHECK_STATUS(fn(reg, buf, n + 1, &m, &e), BW_OK);
    CHECK_EQ_U64(m, n);
    CHECK_STR_EQ(e.message, "");
    CHECK(buf[n] == '\0');
    return buf;
}

static bw_status one_call(const bw_breaker *b, uint32_t outcome) {
    bw_permit p;
    bw_status s = bw_breaker_try_acquire(b, &p, NULL);
    if (s == BW_OK) bw_breaker_record(b, p, outcome, NULL);
    return s;
}

static bw_registry *new_registry(void) {
    bw_registry *reg = NULL;
    CHECK_STATUS(bw_registry_new(&reg, NULL), BW_OK);
    return reg;
}

TEST(an_empty_registry_exports_nothing_and_is_up) {
    bw_registry *reg = new_registry();
    char *text = text_of(bw_registry_prometheus, reg);
    CHECK_STR_EQ(text, "# EOF\n");
    CHECK_STR_EQ(bw_health_status_name(BW_HEALTH_UP), "UP");
    CHECK_STR_EQ(bw_health_status_name(BW_HEALTH_DEGRADED), "DEGRADED");
    CHECK_STR_EQ(bw_health_status_name(BW_HEALTH_DOWN), "DOWN");
    CHECK(bw_health_status_name(BW_HEALTH_DOWN + 1) == NULL);
    CHECK_STR_EQ(bw_registry_prometheus_content_type(),
                 "application/openmetrics-text; version=1.0.0; charset=utf-8");
    free(text);
    text = text_of(bw_registry_health_json, reg);
    CHECK_STR_EQ(text, "{\"status\":\"UP\",\"components\":{}}");
    free(text);
    bw_registry_free(reg);
}

/* A breaker tripped by 3 failures, a bulkhead with one permit held and a rate limiter
   with two permits taken on a manual clock. */
TEST(a_known_registry_gives_the_exact_text) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_registry *reg = new_registry();
    bw_breaker *b = NULL;
    bw_bulkhead *h = NULL;
    bw_limiter *l = NULL;
    CHECK_STATUS(bw_registry_breaker(reg, J("authors"), J("{\"consecutive_failures\": 3}"), clock,
                                     &b, NULL),
                 BW_OK);
    CHECK_STATUS(bw_registry_bulkhead(reg, J("email"), J("{\"max_concurrent\": 2}"), &h, NULL),
                 BW_OK);
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("api"), J("{\"permits\": 5, \"period_ms\": 1000}"),
                                          clock, &l, NULL),
                 BW_OK);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_SUCCESS), BW_OK);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_SUCCESS), BW_REJECTED);
    CHECK_STATUS(bw_bulkhead_try_acquire(h, NULL), BW_OK);
    CHECK_STATUS(bw_limiter_try_acquire(l, 2, NULL, NULL), BW_OK); /* one acquisition */

    char *text = text_of(bw_registry_prometheus, reg);
    CHECK_STR_EQ(text,
                 "# HELP breakwater_breaker_state 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled\n"
                 "# TYPE breakwater_breaker_state gauge\n"
                 "breakwater_breaker_state{breaker=\"authors\",service=\"\",instance=\"\"} 1\n"
                 "# HELP breakwater_breaker_requests Calls the breaker admitted\n"
                 "# TYPE breakwater_breaker_requests counter\n"
                 "breakwater_breaker_requests_total{breaker=\"authors\",service=\"\",instance=\"\"} 4\n"
                 "# HELP breakwater_breaker_successes Recorded successes\n"
                 "# TYPE breakwater_breaker_successes counter\n"
                 "breakwater_breaker_successes_total{breaker=\"authors\",service=\"\",instance=\"\"} 1\n"
                 "# HELP breakwater_breaker_failures Recorded failures\n"
                 "# TYPE breakwater_breaker_failures counter\n"
                 "breakwater_breaker_failures_total{breaker=\"authors\",service=\"\",instance=\"\"} 3\n"
                 "# HELP breakwater_breaker_ignored Recorded ignored outcomes\n"
                 "# TYPE breakwater_breaker_ignored counter\n"
                 "breakwater_breaker_ignored_total{breaker=\"authors\",service=\"\",instance=\"\"} 0\n"
                 "# HELP breakwater_breaker_rejected Calls rejected, by reason\n"
                 "# TYPE breakwater_breaker_rejected counter\n"
                 "breakwater_breaker_rejected_total{breaker=\"authors\",service=\"\",instance=\"\",reason=\"open\"} 1\n"
                 "breakwater_breaker_rejected_total{breaker=\"authors\",service=\"\",instance=\"\",reason=\"trial_full\"} 0\n"
                 "breakwater_breaker_rejected_total{breaker=\"authors\",service=\"\",instance=\"\",reason=\"forced_open\"} 0\n"
                 "# HELP breakwater_breaker_transitions State changes\n"
                 "# TYPE breakwater_breaker_transitions counter\n"
                 "breakwater_breaker_transitions_total{breaker=\"authors\",service=\"\",instance=\"\"} 1\n"
                 "# HELP breakwater_breaker_opened Times the breaker opened\n"
                 "# TYPE breakwater_breaker_opened counter\n"
                 "breakwater_breaker_opened_total{breaker=\"authors\",service=\"\",instance=\"\"} 1\n"
                 "# HELP breakwater_bulkhead_in_use Permits held\n"
                 "# TYPE breakwater_bulkhead_in_use gauge\n"
                 "breakwater_bulkhead_in_use{bulkhead=\"email\"} 1\n"
                 "# HELP breakwater_bulkhead_available Permits free\n"
                 "# TYPE breakwater_bulkhead_available gauge\n"
                 "breakwater_bulkhead_available{bulkhead=\"email\"} 1\n"
                 "# HELP breakwater_bulkhead_waiting Callers waiting\n"
                 "# TYPE breakwater_bulkhead_waiting gauge\n"
                 "breakwater_bulkhead_waiting{bulkhead=\"email\"} 0\n"
                 "# HELP breakwater_bulkhead_max max_concurrent\n"
                 "# TYPE breakwater_bulkhead_max gauge\n"
                 "breakwater_bulkhead_max{bulkhead=\"email\"} 2\n"
                 "# HELP breakwater_bulkhead_peak Highest in_use seen\n"
                 "# TYPE breakwater_bulkhead_peak gauge\n"
                 "breakwater_bulkhead_peak{bulkhead=\"email\"} 1\n"
                 "# HELP breakwater_bulkhead_acquired Permits granted\n"
                 "# TYPE breakwater_bulkhead_acquired counter\n"
                 "breakwater_bulkhead_acquired_total{bulkhead=\"email\"} 1\n"
                 "# HELP breakwater_bulkhead_rejected Acquisitions refused\n"
                 "# TYPE breakwater_bulkhead_rejected counter\n"
                 "breakwater_bulkhead_rejected_total{bulkhead=\"email\"} 0\n"
                 "# HELP breakwater_rate_limiter_permitted Acquisitions granted\n"
                 "# TYPE breakwater_rate_limiter_permitted counter\n"
                 "breakwater_rate_limiter_permitted_total{limiter=\"api\"} 1\n"
                 "# HELP breakwater_rate_limiter_rejected Acquisitions refused\n"
                 "# TYPE breakwater_rate_limiter_rejected counter\n"
                 "breakwater_rate_limiter_rejected_total{limiter=\"api\"} 0\n"
                 "# HELP breakwater_rate_limiter_waited Granted after waiting\n"
                 "# TYPE breakwater_rate_limiter_waited counter\n"
                 "breakwater_rate_limiter_waited_total{limiter=\"api\"} 0\n"
                 "# HELP breakwater_rate_limiter_available Permits free now\n"
                 "# TYPE breakwater_rate_limiter_available gauge\n"
                 "breakwater_rate_limiter_available{limiter=\"api\"} 3\n"
                 "# EOF\n");
    free(text);

    text = text_of(bw_registry_health_json, reg);
    CHECK_STR_EQ(text,
                 "{\"status\":\"DOWN\",\"components\":{\"authors\":{\"status\":\"DOWN\","
                 "\"details\":{\"state\":\"open\"}}}}");
    free(text);

    /* half-open after the open duration (60 s by default): degraded */
    CHECK_STATUS(bw_clock_advance_ns(clock, 60000 * MS, NULL), BW_OK);
    text = text_of(bw_registry_health_json, reg);
    CHECK_STR_EQ(text,
                 "{\"status\":\"DEGRADED\",\"components\":{\"authors\":{\"status\":\"DEGRADED\","
                 "\"details\":{\"state\":\"half-open\"}}}}");
    free(text);

    bw_breaker_free(b);
    bw_bulkhead_free(h);
    bw_limiter_free(l);
    bw_registry_free(reg);
    bw_clock_free(clock);
}

TEST(the_copy_convention) {
    bw_registry *reg = new_registry();
    bw_breaker *b = NULL;
    CHECK_STATUS(bw_registry_breaker(reg, J("db"), NULL, 0, NULL, &b, NULL), BW_OK);
    text_fn fns[2] = {bw_registry_prometheus, bw_registry_health_json};
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        bw_error e = dirty_error();
        CHECK_STATUS(fns[i](reg, NULL, 0, &n, &e), BW_BUFFER_TOO_SMALL);
        CHECK(n > 0);
        CHECK_EQ_INT(e.status, BW_BUFFER_TOO_SMALL);
        /* one byte short (no room for the NUL): refused, buffer untouched */
        char *buf = malloc(n + 1);
        memset(buf, 'x', n + 1);
        size_t m = 0;
        CHECK_STATUS(fns[i](reg, buf, n, &m, &e), BW_BUFFER_TOO_SMALL);
        CHECK_EQ_U64(m, n);
        CHECK(buf[0] == 'x' && buf[n - 1] == 'x');
        char expected[96];
        snprintf(expected, sizeof expected, "the buffer holds %zu bytes, %zu are needed", n, n + 1);
        CHECK_STR_EQ(e.message, expected);
        CHECK_STATUS(fns[i](reg, buf, n + 1, &m, &e), BW_OK);
        CHECK_EQ_U64(m, n);
        CHECK_EQ_U64(strlen(buf), n);
        free(buf);
        /* NULL arguments */
        CHECK_STATUS(fns[i](NULL, NULL, 0, &n, &e), BW_INVALID_ARGUMENT);
        CHECK_STR_EQ(e.message, "registry must not be NULL");
        CHECK_STATUS(fns[i](reg, NULL, 0, NULL, &e), BW_INVALID_ARGUMENT);
        CHECK_STR_EQ(e.message, "out_len must not be NULL");
        CHECK_STATUS(fns[i](reg, NULL, 8, &n, &e), BW_INVALID_ARGUMENT);
        CHECK_STR_EQ(e.message, "buf must not be NULL when len is not 0");
    }
    bw_breaker_free(b);
    bw_registry_free(reg);
}

TEST(bulkheads_are_shared_by_name) {
    bw_registry *reg = new_registry();
    bw_bulkhead *a = NULL, *b = NULL, *c = NULL, *d = SENTINEL_PTR;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_registry_bulkhead(reg, J("email"), J("{\"max_concurrent\": 1}"), &a, &e), BW_OK);
    CHECK_STR_EQ(e.message, "");
    CHECK_STATUS(bw_registry_bulkhead(reg, J("email"), NULL, 0, &b, &e), BW_OK);
    /* the same explicit configuration (its own name is replaced) */
    CHECK_STATUS(bw_registry_bulkhead(reg, J("email"),
                                      J("{\"name\": \"other\", \"max_concurrent\": 1}"), &c, &e),
                 BW_OK);
    CHECK_STATUS(bw_bulkhead_try_acquire(a, NULL), BW_OK);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, &e), BW_REJECTED); /* one permit for all */
    CHECK_EQ_INT(e.reason, BW_REASON_BULKHEAD_FULL);
    CHECK_STATUS(bw_bulkhead_release(c, NULL), BW_OK);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, NULL), BW_OK); /* held until the end */
    /* a conflict */
    CHECK_STATUS(bw_registry_bulkhead(reg, J("email"), J("{\"max_concurrent\": 2}"), &d, &e),
                 BW_INVALID_CONFIG);
    CHECK_STR_EQ(e.message,
                 "invalid bulkhead configuration: name \"email\" is already registered with a "
                 "different configuration");
    /* bad JSON */
    CHECK_STATUS(bw_registry_bulkhead(reg, J("x"), J("{\"max_concurent\": 2}"), &d, &e),
                 BW_INVALID_CONFIG);
    CHECK_STR_PREFIX(e.message, "invalid bulkhead configuration: ");
    CHECK(strstr(e.message, "max_concurent") != NULL);
    CHECK_STATUS(bw_registry_bulkhead(reg, J("x"), J("{\"max_concurrent\": 0}"), &d, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "max_concurrent") != NULL);
    CHECK_STATUS(bw_registry_bulkhead(reg, J("x"), J("{"), &d, &e), BW_INVALID_CONFIG);
    /* NULL and bad arguments */
    CHECK_STATUS(bw_registry_bulkhead(NULL, J("x"), NULL, 0, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "registry must not be NULL");
    CHECK_STATUS(bw_registry_bulkhead(reg, J("x"), NULL, 0, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    CHECK_STATUS(bw_registry_bulkhead(reg, "", 0, NULL, 0, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "name must not be empty");
    CHECK_STATUS(bw_registry_bulkhead(reg, NULL, 1, NULL, 0, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_registry_bulkhead(reg, "\xff", 1, NULL, 0, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(e.message, "name is not valid UTF-8");
    CHECK_STATUS(bw_registry_bulkhead(reg, J("x"), NULL, 3, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "json must not be NULL when json_len is not 0");
    CHECK(d == SENTINEL_PTR);
    /* exported under its name */
    char *text = text_of(bw_registry_prometheus, reg);
    CHECK(strstr(text, "breakwater_bulkhead_max{bulkhead=\"email\"} 1\n") != NULL);
    CHECK(strstr(text, "bulkhead=\"x\"") == NULL);
    free(text);
    bw_registry_free(reg); /* handles stay valid */
    CHECK_STATUS(bw_bulkhead_release(b, NULL), BW_OK);
    bw_bulkhead_free(a);
    bw_bulkhead_free(b);
    bw_bulkhead_free(c);
}

TEST(rate_limiters_are_shared_by_name) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_registry *reg = new_registry();
    bw_limiter *a = NULL, *b = NULL, *c = NULL, *d = SENTINEL_PTR;
    bw_error e = dirty_error();
    const char *cfg = "{\"permits\": 2, \"period_ms\": 1000}";
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("api"), cfg, strlen(cfg), clock, &a, &e), BW_OK);
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("api"), NULL, 0, NULL, &b, &e), BW_OK);
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("api"), cfg, strlen(cfg), NULL, &c, &e), BW_OK);
    CHECK_STATUS(bw_limiter_try_acquire(a, 1, NULL, NULL), BW_OK);
    CHECK_STATUS(bw_limiter_try_acquire(b, 1, NULL, NULL), BW_OK);
    uint64_t wait = 0;
    CHECK_STATUS(bw_limiter_try_acquire(c, 1, &wait, &e), BW_REJECTED); /* one limiter */
    CHECK_EQ_INT(e.reason, BW_REASON_RATE_LIMITED);
    CHECK_EQ_U64(wait, 500 * MS); /* on the manual clock given first */
    CHECK_STATUS(bw_clock_advance_ns(clock, 500 * MS, NULL), BW_OK);
    CHECK_STATUS(bw_limiter_try_acquire(c, 1, NULL, NULL), BW_OK);
    /* a conflict */
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("api"), J("{\"permits\": 3}"), NULL, &d, &e),
                 BW_INVALID_CONFIG);
    CHECK_STR_EQ(e.message,
                 "invalid rate limiter configuration: name \"api\" is already registered with a "
                 "different configuration");
    /* a default one, then an explicit default configuration is the same */
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("plain"), NULL, 0, NULL, &d, &e), BW_OK);
    bw_limiter_free(d);
    d = SENTINEL_PTR;
    /* bad JSON */
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("x"), J("{\"permits\": -1}"), NULL, &d, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, "permits") != NULL);
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("x"), J("{\"permits\": 1"), NULL, &d, &e),
                 BW_INVALID_CONFIG);
    /* NULL and bad arguments */
    CHECK_STATUS(bw_registry_rate_limiter(NULL, J("x"), NULL, 0, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "registry must not be NULL");
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("x"), NULL, 0, NULL, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    CHECK_STATUS(bw_registry_rate_limiter(reg, "", 0, NULL, 0, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "name must not be empty");
    CHECK_STATUS(bw_registry_rate_limiter(reg, J("x"), NULL, 1, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK(d == SENTINEL_PTR);
    char *text = text_of(bw_registry_prometheus, reg);
    CHECK(strstr(text, "breakwater_rate_limiter_permitted_total{limiter=\"api\"} 3\n") != NULL);
    CHECK(strstr(text, "breakwater_rate_limiter_rejected_total{limiter=\"api\"} 1\n") != NULL);
    CHECK(strstr(text, "breakwater_rate_limiter_available{limiter=\"plain\"} 100\n") != NULL);
    free(text);
    bw_limiter_free(a);
    bw_limiter_free(b);
    bw_limiter_free(c);
    bw_registry_free(reg);
    bw_clock_free(clock);
}

TEST(breakers_are_shared_and_exported) {
    bw_registry *reg = new_registry();
    bw_breaker *a = NULL, *b = NULL, *d = SENTINEL_PTR;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_registry_breaker(reg, J("db"), J("{\"consecutive_failures\": 1}"), NULL, &a, &e),
                 BW_OK);
    CHECK_STATUS(bw_registry_breaker(reg, J("db"), NULL, 0, NULL, &b, &e), BW_OK);
    CHECK_EQ_INT(one_call(a, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_SUCCESS), BW_REJECTED);
    CHECK_STATUS(bw_registry_breaker(reg, J("db"), J("{\"consecutive_failures\": 2}"), NULL, &d, &e),
                 BW_INVALID_CONFIG);
    CHECK_STR_EQ(e.message,
                 "invalid circuit breaker configuration: name \"db\" is already registered "
                 "with a different configuration");
    CHECK_STATUS(bw_registry_breaker(reg, J("bad"), J("{\"consecutive_failures\": \"x\"}"), NULL,
                                     &d, &e),
                 BW_INVALID_CONFIG);
    CHECK(d == SENTINEL_PTR);
    char *text = text_of(bw_registry_prometheus, reg);
    CHECK(strstr(text, "breakwater_breaker_state{breaker=\"db\",service=\"\",instance=\"\"} 1\n") !=
          NULL);
    CHECK(strstr(text, "breaker=\"bad\"") == NULL);
    free(text);
    text = text_of(bw_registry_health_json, reg);
    CHECK_STR_EQ(text,
                 "{\"status\":\"DOWN\",\"components\":{\"db\":{\"status\":\"DOWN\","
                 "\"details\":{\"state\":\"open\"}}}}");
    free(text);
    bw_breaker_free(a);
    bw_breaker_free(b);
    bw_registry_free(reg);
}

/* The sentence of each polled event of `b`, in order. */
static void describe_all(const bw_breaker *b, char out[][160], size_t max, size_t *count) {
    bw_breaker_event ev[8];
    size_t n = 0;
    CHECK_STATUS(bw_breaker_poll_events(b, ev, 8, &n, NULL), BW_OK);
    *count = n < max ? n : max;
    for (size_t i = 0; i < *count; i++) {
        size_t len = 0;
        bw_error e = dirty_error();
        CHECK_STATUS(bw_breaker_describe_transition(b, &ev[i], out[i], 160, &len, &e), BW_OK);
        CHECK_EQ_U64(len, strlen(out[i]));
    }
}

TEST(transitions_are_described_by_the_core) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_registry *reg = new_registry();
    bw_breaker *b = NULL;
    CHECK_STATUS(bw_registry_breaker(reg, J("authors"),
                                     J("{\"consecutive_failures\": 3, \"open_duration_ms\": 1000}"),
                                     clock, &b, NULL),
                 BW_OK);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_STATUS(bw_clock_advance_ns(clock, 1000 * MS, NULL), BW_OK);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_SUCCESS), BW_OK);
    CHECK_STATUS(bw_breaker_force_open(b, NULL), BW_OK);
    CHECK_STATUS(bw_breaker_reset(b, NULL), BW_OK);
    char text[8][160];
    size_t n = 0;
    describe_all(b, text, 8, &n);
    CHECK_EQ_U64(n, 5);
    CHECK_STR_EQ(text[0], "breaker authors: closed -> open (3 consecutive failures)");
    CHECK_STR_EQ(text[1], "breaker authors: open -> half-open (open duration elapsed)");
    CHECK_STR_EQ(text[2], "breaker authors: half-open -> closed (trial succeeded)");
    CHECK_STR_EQ(text[3], "breaker authors: closed -> forced-open (forced open)");
    CHECK_STR_EQ(text[4], "breaker authors: forced-open -> closed (reset)");
    bw_breaker_free(b);
    bw_registry_free(reg);
    bw_clock_free(clock);
}

TEST(a_rate_trip_names_its_rate) {
    bw_breaker *b = NULL;
    const char *cfg =
        "{\"failure_rate\": {\"threshold\": 0.5, \"window\": {\"count\": 10}, \"minimum_calls\": 8}}";
    bw_error e = dirty_error();
    CHECK_STATUS(bw_breaker_new_json(cfg, strlen(cfg), NULL, &b, &e), BW_OK);
    CHECK_STR_EQ(e.message, "");
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(one_call(b, BW_OUTCOME_SUCCESS), BW_OK);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    char text[2][160];
    size_t n = 0;
    describe_all(b, text, 2, &n);
    CHECK_EQ_U64(n, 1);
    CHECK_STR_EQ(text[0],
                 "breaker default: closed -> open (failure rate 62.5% >= 50% over the last 8 calls)");
    /* an event the breaker did not keep figures for: the rule */
    bw_breaker_event ev = {BW_STATE_CLOSED, BW_STATE_OPEN, BW_TRANSITION_THRESHOLD_REACHED, 99, 0};
    char buf[160];
    size_t len = 0;
    CHECK_STATUS(bw_breaker_describe_transition(b, &ev, buf, sizeof buf, &len, NULL), BW_OK);
    CHECK_STR_EQ(buf, "breaker default: closed -> open (failure rate >= 50% over the last 10 calls)");
    bw_breaker_free(b);
}

TEST(describe_transition_refuses_bad_input) {
    bw_breaker *b = NULL;
    CHECK_STATUS(bw_breaker_new_json(NULL, 0, NULL, &b, NULL), BW_OK);
    bw_breaker_event ev = {BW_STATE_OPEN, BW_STATE_HALF_OPEN, BW_TRANSITION_OPEN_DURATION_ELAPSED, 2, 0};
    char buf[80];
    size_t len = 0;
    bw_error e = dirty_error();
    /* too small: the length, nothing written */
    memset(buf, 'x', sizeof buf);
    CHECK_STATUS(bw_breaker_describe_transition(b, &ev, buf, 10, &len, &e), BW_BUFFER_TOO_SMALL);
    CHECK_EQ_U64(len, strlen("breaker default: open -> half-open (open duration elapsed)"));
    CHECK(buf[0] == 'x');
    CHECK_STATUS(bw_breaker_describe_transition(b, &ev, buf, sizeof buf, &len, &e), BW_OK);
    CHECK_STR_EQ(buf, "breaker default: open -> half-open (open duration elapsed)");
    CHECK_STATUS(bw_breaker_describe_transition(NULL, &ev, buf, sizeof buf, &len, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "breaker must not be NULL");
    CHECK_STATUS(bw_breaker_describe_transition(b, NULL, buf, sizeof buf, &len, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "event must not be NULL");
    CHECK_STATUS(bw_breaker_describe_transition(b, &ev, buf, sizeof buf, NULL, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out_len must not be NULL");
    CHECK_STATUS(bw_breaker_describe_transition(b, &ev, NULL, 4, &len, &e), BW_INVALID_ARGUMENT);
    bw_breaker_event bad = ev;
    bad.to = 9;
    CHECK_STATUS(bw_breaker_describe_transition(b, &bad, buf, sizeof buf, &len, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "event->to is 9, not a BW_STATE_* code (0 to 4)");
    bad = ev;
    bad.reason = 42;
    CHECK_STATUS(bw_breaker_describe_transition(b, &bad, buf, sizeof buf, &len, &e),
                 BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "event->reason is 42, not a BW_TRANSITION_* code (0 to 9)");
    CHECK_STR_EQ(last_error(), e.message);
    bw_breaker_free(b);
}

int main(void) {
    RUN(an_empty_registry_exports_nothing_and_is_up);
    RUN(a_known_registry_gives_the_exact_text);
    RUN(the_copy_convention);
    RUN(bulkheads_are_shared_by_name);
    RUN(rate_limiters_are_shared_by_name);
    RUN(breakers_are_shared_and_exported);
    RUN(transitions_are_described_by_the_core);
    RUN(a_rate_trip_names_its_rate);
    RUN(describe_transition_refuses_bad_input);
    return check_summary();
}
