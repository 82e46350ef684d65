#define _POSIX_C_SOURCE 200809L
/*
 * Tests of the circuit breaker through the C ABI: configuration (JSON), the permit
 * protocol, the callback convenience, metrics, manual modes, events (polled and by
 * callback), the registry, bad input for every function, and two pthread stress tests.
 */
#include <pthread.h>
#include <stdlib.h>

#include "bw_test.h"

#define JSON(s) (s), strlen(s)
#define SEC 1000000000ull

static bw_clock *manual_clock(void) {
    bw_clock *c = NULL;
    bw_clock_manual_new(&c, NULL);
    return c;
}

static bw_breaker *breaker_json(const char *json, bw_clock *clock) {
    bw_breaker *b = NULL;
    bw_error e;
    bw_status s = bw_breaker_new_json(json, strlen(json), clock, &b, &e);
    if (s != BW_OK) fprintf(stderr, "bw_breaker_new_json: %s\n", e.message);
    return b;
}

static uint32_t state_of(const bw_breaker *b) {
    uint32_t s = 99;
    bw_breaker_state(b, &s, NULL);
    return s;
}

static bw_breaker_stats metrics_of(const bw_breaker *b) {
    bw_breaker_stats m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    bw_breaker_metrics(b, &m, NULL);
    return m;
}

/* Runs one protocol call with `outcome`; returns the acquire status. */
static bw_status one_call(const bw_breaker *b, uint32_t outcome) {
    bw_permit p;
    bw_status s = bw_breaker_try_acquire(b, &p, NULL);
    if (s == BW_OK) bw_breaker_record(b, p, outcome, NULL);
    return s;
}

/* ---- configuration, self-description ---- */

/* The message of bw_breaker_new_json for `json` (which must be refused). */
static const char *refusal(const char *json) {
    static bw_error e;
    bw_breaker *b = SENTINEL_PTR;
    e = dirty_error();
    CHECK_STATUS(bw_breaker_new_json(JSON(json), NULL, &b, &e), BW_INVALID_CONFIG);
    CHECK(b == SENTINEL_PTR);
    CHECK_EQ_INT(e.policy, BW_POLICY_CIRCUIT_BREAKER);
    CHECK_EQ_U64(e.message_len, strlen(e.message));
    CHECK(strstr(e.message, " at line ") == NULL || strstr(e.message, "malformed JSON") != NULL);
    return e.message;
}

#define PREFIX "invalid circuit breaker configuration: "

TEST(every_field_error_names_the_field_as_written) {
    struct {
        const char *json;
        const char *message;
    } bad[] = {
        {"{\"name\": \"\"}", PREFIX "name must not be empty"},
        {"{\"name\": 1}", PREFIX "name: invalid type: integer `1`, expected a string"},
        {"{\"consecutive_failures\": 0}", PREFIX "consecutive_failures must be at least 1"},
        {"{\"failures_in_window\": {\"threshold\": 0, \"window_ms\": 10}}",
         PREFIX "failures_in_window.threshold must be at least 1"},
        {"{\"failures_in_window\": {\"threshold\": 2, \"window_ms\": 0}}",
         PREFIX "failures_in_window.window_ms must be greater than zero"},
        {"{\"failures_in_window\": {\"threshold\": 2}}",
         PREFIX "failures_in_window.window_ms is required"},
        {"{\"failure_rate\": {\"threshold\": 1.5}}",
         PREFIX "failure_rate.threshold must be in (0, 1], got 1.5"},
        {"{\"failure_rate\": {\"threshold\": 0.5, \"window\": {\"count\": 0}}}",
         PREFIX "failure_rate.window must hold at least 1 outcome (count >= 1)"},
        {"{\"failure_rate\": {\"threshold\": 0.5, \"window\": {\"count\": 10}, \"minimum_calls\": 20}}",
         PREFIX "failure_rate.minimum_calls must not exceed the count window's size (10), got 20"},
        {"{\"failure_rate\": {\"threshold\": 0.5, \"slow\": {\"threshold\": 0, \"slow_duration_ms\": 1}}}",
         PREFIX "failure_rate.slow.threshold must be in (0, 1], got 0"},
        {"{\"failure_rate\": {\"threshold\": 0.5, \"slow\": {\"threshold\": 0.5, \"slow_duration_ms\": 0}}}",
         PREFIX "failure_rate.slow.slow_duration_ms must be greater than zero"},
        {"{\"slow_call_rate\": {\"threshold\": 2, \"slow_duration_ms\": 5}}",
         PREFIX "slow_call_rate.threshold must be in (0, 1], got 2"},
        {"{\"slow_call_rate\": {\"threshold\": 0.5, \"slow_duration_ms\": 5, \"minimum_calls\": 0}}",
         PREFIX "slow_call_rate.minimum_calls must be at least 1"},
        {"{\"open_duration_ms\": 0}", PREFIX "open_duration_ms must be greater than zero"},
        {"{\"open_duration_ms\": -1}",
         PREFIX "open_duration_ms must be a non-negative number of milliseconds, got -1"},
        {"{\"open_duration_ms\": \"x\"}",
         PREFIX "open_duration_ms: invalid type: string \"x\", expected f64"},
        {"{\"open_duration_multiplier\": 0.5}",
         PREFIX "open_duration_multiplier must be a finite number of at least 1.0, got 0.5"},
        {"{\"open_duration_cap_ms\": 10}",
         PREFIX "open_duration_cap_ms must not be less than open_duration_ms (60s), got 10ms"},
        {"{\"half_open_max_calls\": 0}", PREFIX "half_open_max_calls must be at least 1"},
        {"{\"half_open_max_calls\": 2, \"success_threshold\": 3}",
         PREFIX "success_threshold must not exceed half_open_max_calls (2), got 3"},
        {"{\"half_open_max_wait_ms\": 0}", PREFIX "half_open_max_wait_ms must be greater than zero"},
        {"{\"open_duratoin_ms\": 5}",
         PREFIX "unknown key \"open_duratoin_ms\" (did you mean \"open_duration_ms\"?)"},
        {"{\"failure_rate\": {\"threshold\": 0.5, \"treshold\": 0.5}}",
         PREFIX "unknown key \"treshold\" in failure_rate (did you mean \"threshold\"?)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_STR_EQ(refusal(bad[i].json), bad[i].message);
    CHECK_STR_PREFIX(refusal("{\"name\": \"x\","), PREFIX "malformed JSON: ");
}

TEST(two_trip_policies_are_refused_with_one_message) {
    CHECK_STR_EQ(refusal("{\"consecutive_failures\": 3, \"failure_rate\": {\"threshold\": 0.5}}"),
                 PREFIX "consecutive_failures and failure_rate are both set: a breaker has one trip "
                        "policy (to count slow calls with a failure rate, set failure_rate.slow)");
    /* null is "unset": the defaults text with one policy swapped in is accepted */
    bw_breaker *b = breaker_json("{\"consecutive_failures\": null, \"failure_rate\": {\"threshold\": 0.5}}", NULL);
    CHECK(b != NULL);
    bw_breaker_free(b);
}

TEST(long_names_are_refused_and_messages_are_never_cut) {
    char name[BW_NAME_MAX_LEN + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0; /* BW_NAME_MAX_LEN + 1 bytes */
    char json[512];
    snprintf(json, sizeof json, "{\"name\": \"%s\"}", name);
    CHECK_STR_EQ(refusal(json), PREFIX "name is 129 bytes long: at most 128 bytes");
    /* the longest name is quoted whole in the registry's conflict message */
    name[BW_NAME_MAX_LEN] = 0;
    bw_registry *r = NULL;
    bw_error e;
    CHECK_STATUS(bw_registry_new(&r, &e), BW_OK);
    bw_breaker *a = NULL, *b = SENTINEL_PTR;
    CHECK_STATUS(bw_registry_breaker(r, name, strlen(name), JSON("{\"consecutive_failures\": 2}"), NULL, &a, &e), BW_OK);
    CHECK_STATUS(bw_registry_breaker(r, name, strlen(name), JSON("{\"consecutive_failures\": 3}"), NULL, &b, &e),
                 BW_INVALID_CONFIG);
    CHECK(strstr(e.message, name) != NULL);
    CHECK_STR_PREFIX(strstr(e.message, name) + strlen(name), "\" is already registered with a different configuration");
    CHECK_EQ_U64(e.message_len, strlen(e.message));
    /* a 5000-byte unknown key is quoted up to 64 characters */
    char *big = malloc(6000);
    memset(big, 'k', 5000);
    big[0] = '{';
    big[1] = '"';
    strcpy(big + 5000, "\": 1}");
    const char *m = refusal(big);
    CHECK(strlen(m) < 400);
    CHECK(strstr(m, "...\" (known keys: ") != NULL || strstr(m, "...\"") != NULL);
    free(big);
    bw_breaker_free(a);
    bw_registry_free(r);
}

TEST(new_json_checks_its_arguments) {
    bw_error e = dirty_error();
    CHECK_STATUS(bw_breaker_new_json(NULL, 2, NULL, &(bw_breaker *){NULL}, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "json must not be NULL when json_len is not 0");
    CHECK_STATUS(bw_breaker_new_json(JSON("{}"), NULL, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    bw_breaker *b = NULL;
    CHECK_STATUS(bw_breaker_new_json(NULL, 0, NULL, &b, &e), BW_OK); /* the defaults */
    CHECK_EQ_U64(e.message_len, 0);
    char name[32];
    size_t len = 0;
    CHECK_STATUS(bw_breaker_name(b, name, sizeof name, &len, &e), BW_OK);
    CHECK_STR_EQ(name, "default");
    bw_breaker_free(b);
    bw_breaker_free(NULL);
}

/* Every code from 0 until NULL; returns how many. */
static size_t count_names(const char *(*f)(uint32_t)) {
    size_t n = 0;
    while (f((uint32_t)n) != NULL) n++;
    return n;
}

TEST(the_library_describes_itself) {
    CHECK_STR_EQ(bw_policy_name(BW_POLICY_NONE), "none");
    CHECK_STR_EQ(bw_policy_name(BW_POLICY_CIRCUIT_BREAKER), "circuit breaker");
    CHECK_STR_EQ(bw_policy_name(BW_POLICY_THREAD_POOL), "thread pool");
    CHECK_EQ_U64(count_names(bw_policy_name), BW_POLICY_HTTP + 1);
    CHECK(bw_policy_name(BW_POLICY_HTTP + 1) == NULL);
    CHECK_STR_EQ(bw_reason_name(BW_REASON_OPEN), "open");
    CHECK_STR_EQ(bw_reason_name(BW_REASON_TRIAL_FULL), "half-open trial full");
    CHECK_EQ_U64(count_names(bw_reason_name), BW_REASON_CANCELLED + 1);
    CHECK_STR_EQ(bw_state_name(BW_STATE_HALF_OPEN), "half-open");
    CHECK_EQ_U64(count_names(bw_state_name), BW_STATE_DISABLED + 1);
    CHECK_STR_EQ(bw_transition_reason_name(BW_TRANSITION_TRIAL_FAILED), "trial failed");
    CHECK_EQ_U64(count_names(bw_transition_reason_name), BW_TRANSITION_MANUAL_HALF_OPEN + 1);
    CHECK_STR_EQ(bw_transition_reason_name(BW_TRANSITION_MANUAL_OPEN), "transitioned to open");
    CHECK(bw_state_name(UINT32_MAX) == NULL);
    /* the same pointer every time (static) */
    CHECK(bw_state_name(0) == bw_state_name(0));

    const char *d = bw_breaker_config_defaults_json();
    CHECK(d == bw_breaker_config_defaults_json());
    CHECK(strstr(d, "\"consecutive_failures\":5") != NULL);
    CHECK(strstr(d, "\"failure_rate\":null") != NULL);
    CHECK(strstr(d, "\"open_duration_ms\":60000") != NULL);
    /* the defaults text builds the default breaker */
    bw_breaker *b = breaker_json(d, NULL);
    CHECK(b != NULL);
    bw_breaker_free(b);
    const char *s = bw_breaker_config_schema_json();
    CHECK(strstr(s, "\"oneOf\"") != NULL);
    CHECK(strstr(s, "\"additionalProperties\":false") != NULL);
    CHECK(strstr(s, "\"half_open_max_calls\":{\"default\":1,") != NULL);
    const char *(*defaults[])(void) = {bw_breaker_config_defaults_json, bw_retry_config_defaults_json,
                                       bw_bulkhead_config_defaults_json, bw_limiter_config_defaults_json,
                                       bw_pool_config_defaults_json, bw_time_limiter_config_defaults_json};
    const char *(*schemas[])(void) = {bw_breaker_config_schema_json, bw_retry_config_schema_json,
                                      bw_bulkhead_config_schema_json, bw_limiter_config_schema_json,
                                      bw_pool_config_schema_json, bw_time_limiter_config_schema_json};
    for (size_t i = 0; i < 6; i++) {
        CHECK(defaults[i]()[0] == '{');
        CHECK(strstr(defaults[i](), "\"name\":") != NULL);
        CHECK(strstr(defaults[i](), "_ns\"") == NULL); /* durations are *_ms */
        CHECK(strstr(schemas[i](), "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"") != NULL);
    }
    CHECK(strstr(bw_time_limiter_config_defaults_json(), "\"timeout_ms\":1000") != NULL);
}

TEST(stats_sizing_writes_a_prefix) {
    bw_breaker *b = breaker_json("{}", NULL);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    bw_breaker_stats m;
    memset(&m, 0xAB, sizeof m);
    m.size = offsetof(bw_breaker_stats, requests);
    bw_error e = dirty_error();
    CHECK_STATUS(bw_breaker_metrics(b, &m, &e), BW_OK);
    CHECK_EQ_U64(m.size, offsetof(bw_breaker_stats, requests));
    CHECK_EQ_U64(m.generation, 1);
    CHECK_EQ_U64(m.requests, 0xABABABABABABABABull); /* beyond the size: untouched */
    m.size = sizeof m + 64; /* a newer caller: the library writes what it has */
    CHECK_STATUS(bw_breaker_metrics(b, &m, &e), BW_OK);
    CHECK_EQ_U64(m.size, sizeof m);
    CHECK_EQ_U64(m.requests, 1);
    m.size = sizeof(size_t) - 1;
    CHECK_STATUS(bw_breaker_metrics(b, &m, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(e.message, "out->size is 7: set it to sizeof the stats structure");
    CHECK_STATUS(bw_breaker_metrics(b, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_metrics(NULL, &m, &e), BW_INVALID_ARGUMENT);
    bw_breaker_free(b);
}

/* ---- the protocol ---- */

TEST(protocol_counts_and_rejects_with_reasons) {
    bw_clock *clock = manual_clock();
    bw_breaker *b = breaker_json(
        "{\"consecutive_failures\": 2,"
        " \"open_duration_ms\": 30000}",
        clock);
    bw_clock_free(clock); /* the breaker keeps its reference */
    bw_permit p;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, &e), BW_OK);
    CHECK_EQ_U64(p.generation, 1);
    CHECK_STATUS(bw_breaker_record(b, p, BW_OUTCOME_SUCCESS, &e), BW_OK);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_IGNORED), BW_OK);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(m.size, sizeof m);
    CHECK_EQ_U64(m.requests, 3);
    CHECK_EQ_U64(m.successes, 1);
    CHECK_EQ_U64(m.ignored, 1);
    CHECK_EQ_U64(m.failures, 1);
    CHECK_EQ_U64(m.consecutive_failures, 1);
    CHECK(m.failure_rate == -1.0);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_EQ_INT(state_of(b), BW_STATE_OPEN);

    bw_permit untouched = {77, 88};
    e = dirty_error();
    CHECK_STATUS(bw_breaker_try_acquire(b, &untouched, &e), BW_REJECTED);
    CHECK_EQ_U64(untouched.generation, 77);
    CHECK_EQ_INT(e.policy, BW_POLICY_CIRCUIT_BREAKER);
    CHECK_EQ_INT(e.reason, BW_REASON_OPEN);
    CHECK(e.has_retry_after);
    CHECK_EQ_U64(e.retry_after_ns, 30 * SEC);
    CHECK_STR_EQ(e.message, "circuit breaker rejected the call: open");

    /* the permit of the closed generation is stale now */
    e = dirty_error();
    CHECK_STATUS(bw_breaker_record(b, p, BW_OUTCOME_FAILURE, &e), BW_STALE);
    CHECK_EQ_INT(e.policy, BW_POLICY_CIRCUIT_BREAKER);
    CHECK_STR_PREFIX(e.message, "the permit of generation 1 is stale");
    bw_permit zero = {0, 0};
    CHECK_STATUS(bw_breaker_record_duration(b, zero, BW_OUTCOME_SUCCESS, 5, &e), BW_STALE);

    CHECK_STATUS(bw_breaker_force_open(b, &e), BW_OK);
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, &e), BW_REJECTED);
    CHECK_EQ_INT(e.reason, BW_REASON_FORCED_OPEN);
    CHECK(!e.has_retry_after);
    CHECK_EQ_INT(state_of(b), BW_STATE_FORCED_OPEN);

    CHECK_STATUS(bw_breaker_disable(b, &e), BW_OK);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_EQ_INT(state_of(b), BW_STATE_DISABLED);

    CHECK_STATUS(bw_breaker_reset(b, &e), BW_OK);
    CHECK_EQ_INT(state_of(b), BW_STATE_CLOSED);
    m = metrics_of(b);
    CHECK_EQ_U64(m.requests, 0);
    CHECK_EQ_U64(m.total_requests, 14);
    CHECK_EQ_U64(m.total_failures, 12);
    CHECK_EQ_U64(m.rejected_open, 1);
    CHECK_EQ_U64(m.rejected_forced_open, 1);
    CHECK_EQ_U64(m.stale_dropped, 2);
    CHECK_EQ_U64(m.opened, 1);
    CHECK_EQ_U64(m.transitions, 4);
    CHECK_EQ_U64(m.generation, 5);
    bw_breaker_free(b);
}

TEST(protocol_refuses_bad_arguments) {
    bw_breaker *b = breaker_json("", NULL);
    bw_permit p = {5, 6};
    bw_error e;
    CHECK_STATUS(bw_breaker_try_acquire(NULL, &p, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "breaker must not be NULL");
    CHECK_STATUS(bw_breaker_try_acquire(b, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out must not be NULL");
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, &e), BW_OK);
    CHECK_STATUS(bw_breaker_record(b, p, 3, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message,
                 "outcome: 3 is not a valid value (expected 0 (BW_OUTCOME_SUCCESS), 1 "
                 "(BW_OUTCOME_FAILURE) or 2 (BW_OUTCOME_IGNORED))");
    CHECK_STATUS(bw_breaker_record_duration(b, p, 0xffffffffu, 1, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_record(NULL, p, BW_OUTCOME_SUCCESS, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_record_duration(NULL, p, 0, 1, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_record_duration(b, p, BW_OUTCOME_SUCCESS, 1000, &e), BW_OK);
    uint32_t st = 42;
    CHECK_STATUS(bw_breaker_state(NULL, &st, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_state(b, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "out_state must not be NULL");
    CHECK_EQ_INT(st, 42);
    CHECK_STATUS(bw_breaker_reset(NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_force_open(NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_disable(NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "breaker must not be NULL");

    bw_breaker_stats m;
    memset(&m, 0x5a, sizeof m);
    m.size = 4;
    CHECK_STATUS(bw_breaker_metrics(b, &m, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(e.message, "out->size is 4: set it to sizeof the stats structure");
    CHECK_EQ_U64(m.generation, 0x5a5a5a5a5a5a5a5aull);
    CHECK_STATUS(bw_breaker_metrics(b, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_metrics(NULL, &m, &e), BW_INVALID_ARGUMENT);
    /* an older, smaller struct gets only the fields that fit */
    m.size = (uint32_t)offsetof(bw_breaker_stats, successes);
    CHECK_STATUS(bw_breaker_metrics(b, &m, &e), BW_OK);
    CHECK_EQ_U64(m.size, offsetof(bw_breaker_stats, successes));
    CHECK_EQ_U64(m.requests, 1);
    CHECK_EQ_U64(m.successes, 0x5a5a5a5a5a5a5a5aull);

    char name[8] = "zzzzzzz";
    size_t len = 0;
    CHECK_STATUS(bw_breaker_name(b, name, 4, &len, &e), BW_BUFFER_TOO_SMALL);
    CHECK_EQ_U64(len, 7); /* "default" */
    CHECK_STR_EQ(name, "zzzzzzz");
    CHECK_STATUS(bw_breaker_name(b, NULL, 0, &len, &e), BW_BUFFER_TOO_SMALL);
    CHECK_STATUS(bw_breaker_name(b, NULL, 8, &len, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_name(b, name, 8, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_name(NULL, name, 8, &len, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_name(b, name, 8, &len, &e), BW_OK);
    CHECK_STR_EQ(name, "default");

    bw_breaker_event ev[2];
    size_t n = 9;
    CHECK_STATUS(bw_breaker_poll_events(NULL, ev, 2, &n, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_poll_events(b, ev, 2, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_poll_events(b, NULL, 2, &n, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "buf must not be NULL when cap is not 0");
    CHECK_EQ_U64(n, 9);
    CHECK_STATUS(bw_breaker_poll_events(b, NULL, 0, &n, &e), BW_OK);
    CHECK_EQ_U64(n, 0);
    bw_breaker_free(b);
}

/* ---- the callback convenience ---- */

static int returns_int(void *user_data) { return *(int *)user_data; }

TEST(call_runs_the_function_and_records_its_verdict) {
    bw_breaker *b = breaker_json(
        "{\"consecutive_failures\": 2}", NULL);
    int ok = 0, bad = -7, result = 123;
    bw_error e;
    CHECK_STATUS(bw_breaker_call(b, returns_int, &ok, &result, &e), BW_OK);
    CHECK_EQ_INT(result, 0);
    CHECK_STATUS(bw_breaker_call(b, returns_int, &bad, &result, &e), BW_FAILED);
    CHECK_EQ_INT(result, -7);
    CHECK_EQ_INT(e.policy, BW_POLICY_CIRCUIT_BREAKER);
    CHECK_STR_EQ(e.message, "the guarded function failed (returned -7)");
    CHECK_STATUS(bw_breaker_call(b, returns_int, &bad, NULL, &e), BW_FAILED);
    result = 55;
    CHECK_STATUS(bw_breaker_call(b, returns_int, &ok, &result, &e), BW_REJECTED);
    CHECK_EQ_INT(e.reason, BW_REASON_OPEN);
    CHECK_EQ_INT(result, 55);
    CHECK_STATUS(bw_breaker_call(b, NULL, &ok, &result, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "func must not be NULL");
    CHECK_STR_EQ(last_error(), "func must not be NULL");
    CHECK_STATUS(bw_breaker_call(NULL, returns_int, &ok, &result, &e), BW_INVALID_ARGUMENT);
    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(m.total_successes, 1);
    CHECK_EQ_U64(m.total_failures, 2);
    CHECK_EQ_U64(m.rejected_open, 1);
    bw_breaker_free(b);
}

/* ---- events: the outage exercise ---- */

typedef struct {
    bw_breaker_event events[16];
    int n;
} recorder;

static void record_event(const bw_breaker_event *ev, void *user_data) {
    recorder *r = user_data;
    if (r->n < 16) r->events[r->n++] = *ev;
}

static void check_event(const bw_breaker_event *ev, uint32_t from, uint32_t to,
                        uint32_t reason, uint64_t generation, uint64_t at_ns) {
    CHECK_EQ_INT(ev->from, from);
    CHECK_EQ_INT(ev->to, to);
    CHECK_EQ_INT(ev->reason, reason);
    CHECK_EQ_U64(ev->generation, generation);
    CHECK_EQ_U64(ev->at_ns, at_ns);
}

TEST(outage_exercise_on_the_manual_clock) {
    bw_clock *clock = manual_clock();
    bw_error e;
    recorder rec = {0};
    bw_breaker *b = NULL;
    CHECK_STATUS(bw_breaker_new_json_with_callback(
                     JSON("{\"name\": \"authors\", \"open_duration_ms\": 10000,"
                          " \"consecutive_failures\": 3}"),
                     clock, record_event, &rec, &b, &e),
                 BW_OK);

    /* the dependency fails three times: open */
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_EQ_INT(state_of(b), BW_STATE_OPEN);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_SUCCESS), BW_REJECTED);
    /* 10 s later: half-open; the trial fails: open again */
    bw_clock_advance_ns(clock, 10 * SEC, NULL);
    CHECK_EQ_INT(state_of(b), BW_STATE_HALF_OPEN);
    bw_permit p;
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, &e), BW_OK);
    CHECK_STATUS(bw_breaker_try_acquire(b, &(bw_permit){0, 0}, &e), BW_REJECTED);
    CHECK_EQ_INT(e.reason, BW_REASON_TRIAL_FULL);
    CHECK_STATUS(bw_breaker_record(b, p, BW_OUTCOME_FAILURE, &e), BW_OK);
    CHECK_EQ_INT(state_of(b), BW_STATE_OPEN);
    /* 10 s later: half-open; the trial succeeds: closed */
    bw_clock_advance_ns(clock, 10 * SEC, NULL);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_SUCCESS), BW_OK);
    CHECK_EQ_INT(state_of(b), BW_STATE_CLOSED);

    bw_breaker_event ev[8];
    size_t n = 0;
    CHECK_STATUS(bw_breaker_poll_events(b, ev, 2, &n, &e), BW_OK);
    CHECK_EQ_U64(n, 2);
    check_event(&ev[0], BW_STATE_CLOSED, BW_STATE_OPEN, BW_TRANSITION_THRESHOLD_REACHED, 2, 0);
    check_event(&ev[1], BW_STATE_OPEN, BW_STATE_HALF_OPEN, BW_TRANSITION_OPEN_DURATION_ELAPSED,
                3, 10 * SEC);
    CHECK_STATUS(bw_breaker_poll_events(b, ev, 8, &n, &e), BW_OK);
    CHECK_EQ_U64(n, 3);
    check_event(&ev[0], BW_STATE_HALF_OPEN, BW_STATE_OPEN, BW_TRANSITION_TRIAL_FAILED, 4,
                10 * SEC);
    check_event(&ev[1], BW_STATE_OPEN, BW_STATE_HALF_OPEN, BW_TRANSITION_OPEN_DURATION_ELAPSED,
                5, 20 * SEC);
    check_event(&ev[2], BW_STATE_HALF_OPEN, BW_STATE_CLOSED, BW_TRANSITION_TRIAL_SUCCEEDED, 6,
                20 * SEC);
    CHECK_STATUS(bw_breaker_poll_events(b, ev, 8, &n, &e), BW_OK);
    CHECK_EQ_U64(n, 0);

    /* the callback saw the same five transitions, in order */
    CHECK_EQ_INT(rec.n, 5);
    check_event(&rec.events[0], BW_STATE_CLOSED, BW_STATE_OPEN, BW_TRANSITION_THRESHOLD_REACHED,
                2, 0);
    check_event(&rec.events[4], BW_STATE_HALF_OPEN, BW_STATE_CLOSED,
                BW_TRANSITION_TRIAL_SUCCEEDED, 6, 20 * SEC);
    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(m.opened, 2);
    CHECK_EQ_U64(m.rejected_open, 1);
    CHECK_EQ_U64(m.rejected_trial_full, 1);
    CHECK_EQ_U64(m.events_dropped, 0);
    bw_breaker_free(b);
    bw_clock_free(clock);
}

TEST(event_queue_overflow_counts_dropped_events) {
    bw_breaker *b = breaker_json("", NULL);
    for (int i = 0; i < (BW_BREAKER_EVENT_QUEUE_LEN + 10) / 2; i++) {
        bw_breaker_force_open(b, NULL); /* a transition each */
        bw_breaker_reset(b, NULL);
    }
    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(m.events_dropped, 10);
    static bw_breaker_event ev[BW_BREAKER_EVENT_QUEUE_LEN + 10];
    size_t n = 0;
    CHECK_STATUS(bw_breaker_poll_events(b, ev, BW_BREAKER_EVENT_QUEUE_LEN + 10, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, BW_BREAKER_EVENT_QUEUE_LEN);
    CHECK_EQ_U64(ev[0].generation, 2); /* the oldest are kept */
    bw_breaker_free(b);
}

/* ---- registry ---- */

TEST(registry_shares_breakers_by_name) {
    bw_registry *reg = NULL;
    bw_error e;
    CHECK_STATUS(bw_registry_new(&reg, &e), BW_OK);
    const char *cfg = "{\"consecutive_failures\": 1}";
    bw_breaker *a = NULL, *b = NULL, *c = NULL, *d = SENTINEL_PTR;
    CHECK_STATUS(bw_registry_breaker(reg, JSON("db"), JSON(cfg), NULL, &a, &e), BW_OK);
    CHECK_STATUS(bw_registry_breaker(reg, JSON("db"), NULL, 0, NULL, &b, &e), BW_OK);
    CHECK_STATUS(bw_registry_breaker(reg, JSON("db"), JSON(cfg), NULL, &c, &e), BW_OK);
    CHECK_EQ_INT(one_call(a, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_EQ_INT(state_of(b), BW_STATE_OPEN); /* one shared breaker */
    CHECK_EQ_INT(state_of(c), BW_STATE_OPEN);
    size_t n = 0;
    bw_breaker_event ev[4];
    CHECK_STATUS(bw_breaker_poll_events(c, ev, 4, &n, &e), BW_OK);
    CHECK_EQ_U64(n, 1);
    char name[8];
    size_t len;
    CHECK_STATUS(bw_breaker_name(b, name, sizeof name, &len, &e), BW_OK);
    CHECK_STR_EQ(name, "db");
    CHECK_STATUS(bw_registry_breaker(reg, JSON("db"), JSON("{\"half_open_max_calls\": 2}"), NULL,
                                     &d, &e),
                 BW_INVALID_CONFIG);
    CHECK_STR_EQ(e.message,
                 "invalid circuit breaker configuration: name \"db\" is already registered "
                 "with a different configuration");
    CHECK(d == SENTINEL_PTR);
    /* a default one */
    CHECK_STATUS(bw_registry_breaker(reg, JSON("other"), NULL, 0, NULL, &d, &e), BW_OK);
    CHECK_STATUS(bw_breaker_name(d, name, sizeof name, &len, &e), BW_OK);
    CHECK_STR_EQ(name, "other");
    bw_breaker_free(d);
    d = SENTINEL_PTR;
    CHECK_STATUS(bw_registry_breaker(reg, JSON("bad"), JSON("{\"x\": 1}"), NULL, &d, &e),
                 BW_INVALID_CONFIG);
    CHECK_STATUS(bw_registry_breaker(reg, "", 0, NULL, 0, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "name must not be empty");
    CHECK_STATUS(bw_registry_breaker(reg, "\xff", 1, NULL, 0, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(e.message, "name is not valid UTF-8");
    CHECK_STATUS(bw_registry_breaker(reg, NULL, 2, NULL, 0, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_registry_breaker(reg, JSON("x"), NULL, 2, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_registry_breaker(NULL, JSON("x"), NULL, 0, NULL, &d, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_registry_breaker(reg, JSON("x"), NULL, 0, NULL, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK(d == SENTINEL_PTR);
    CHECK_STATUS(bw_registry_new(NULL, &e), BW_INVALID_ARGUMENT);
    bw_registry_free(reg); /* handles stay valid */
    bw_registry_free(NULL);
    CHECK_EQ_INT(state_of(a), BW_STATE_OPEN);
    bw_breaker_free(a);
    bw_breaker_free(b);
    bw_breaker_free(c);
}

/* ---- threads ---- */

#define STRESS_THREADS 8
#define STRESS_CALLS 100000

typedef struct {
    bw_breaker *b;
    unsigned seed;
    uint64_t ok, bad, ignored;
} stress_arg;

static void *stress(void *p) {
    stress_arg *a = p;
    unsigned x = a->seed;
    for (int i = 0; i < STRESS_CALLS; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t outcome = (x >> 16) % 3;
        bw_permit permit;
        if (bw_breaker_try_acquire(a->b, &permit, NULL) != BW_OK) continue;
        if (bw_breaker_record(a->b, permit, outcome, NULL) != BW_OK) continue;
        if (outcome == BW_OUTCOME_SUCCESS) a->ok++;
        if (outcome == BW_OUTCOME_FAILURE) a->bad++;
        if (outcome == BW_OUTCOME_IGNORED) a->ignored++;
    }
    return NULL;
}

TEST(threads_hammering_one_breaker_keep_exact_counts) {
    bw_breaker *b = breaker_json(
        "{\"consecutive_failures\": 1000000}", NULL);
    pthread_t t[STRESS_THREADS];
    stress_arg args[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        args[i] = (stress_arg){b, (unsigned)(i * 7919 + 1), 0, 0, 0};
        pthread_create(&t[i], NULL, stress, &args[i]);
    }
    uint64_t ok = 0, bad = 0, ignored = 0;
    for (int i = 0; i < STRESS_THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += args[i].ok;
        bad += args[i].bad;
        ignored += args[i].ignored;
    }
    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(ok + bad + ignored, (uint64_t)STRESS_THREADS * STRESS_CALLS);
    CHECK_EQ_U64(m.total_requests, (uint64_t)STRESS_THREADS * STRESS_CALLS);
    CHECK_EQ_U64(m.total_successes, ok);
    CHECK_EQ_U64(m.total_failures, bad);
    CHECK_EQ_U64(m.total_ignored, ignored);
    CHECK_EQ_U64(m.requests, m.total_requests);
    CHECK(ok > 0 && bad > 0 && ignored > 0);
    CHECK_EQ_INT(state_of(b), BW_STATE_CLOSED);
    bw_breaker_free(b);
}

#define TRIAL_THREADS 16
#define TRIAL_ROUNDS 50

typedef struct {
    bw_breaker *b;
    pthread_barrier_t *start, *done;
    int admitted[TRIAL_ROUNDS];
    bw_permit permits[TRIAL_ROUNDS];
} trial_arg;

static void *trial(void *p) {
    trial_arg *a = p;
    for (int r = 0; r < TRIAL_ROUNDS; r++) {
        pthread_barrier_wait(a->start);
        a->admitted[r] = bw_breaker_try_acquire(a->b, &a->permits[r], NULL) == BW_OK;
        pthread_barrier_wait(a->done);
    }
    return NULL;
}

TEST(sixteen_threads_at_the_half_open_boundary_never_exceed_the_trial) {
    bw_clock *clock = manual_clock();
    bw_breaker *b = breaker_json(
        "{\"consecutive_failures\": 1,"
        " \"half_open_max_calls\": 3, \"open_duration_ms\": 1000}",
        clock);
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, TRIAL_THREADS + 1);
    pthread_barrier_init(&done, NULL, TRIAL_THREADS + 1);
    pthread_t t[TRIAL_THREADS];
    static trial_arg args[TRIAL_THREADS];
    for (int i = 0; i < TRIAL_THREADS; i++) {
        args[i].b = b;
        args[i].start = &start;
        args[i].done = &done;
        pthread_create(&t[i], NULL, trial, &args[i]);
    }
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    for (int r = 0; r < TRIAL_ROUNDS; r++) {
        CHECK_EQ_INT(state_of(b), BW_STATE_OPEN);
        bw_clock_advance_ns(clock, SEC, NULL); /* due: the threads race to apply it */
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        int admitted = 0;
        for (int i = 0; i < TRIAL_THREADS; i++) {
            if (args[i].admitted[r]) {
                admitted++;
                /* the first failure re-opens; the others are then stale */
                bw_breaker_record(b, args[i].permits[r], BW_OUTCOME_FAILURE, NULL);
            }
        }
        CHECK_EQ_INT(admitted, 3);
    }
    for (int i = 0; i < TRIAL_THREADS; i++) pthread_join(t[i], NULL);
    bw_breaker_stats m = metrics_of(b);
    CHECK_EQ_U64(m.rejected_trial_full, (uint64_t)TRIAL_ROUNDS * (TRIAL_THREADS - 3));
    CHECK_EQ_U64(m.stale_dropped, (uint64_t)TRIAL_ROUNDS * 2);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    bw_breaker_free(b);
    bw_clock_free(clock);
}

/* ---- manual transitions, remaining open time, interval ---- */

TEST(manual_transitions_remaining_open_and_interval) {
    bw_clock *clock = manual_clock();
    bw_breaker *b = breaker_json("{\"consecutive_failures\": 2, \"open_duration_ms\": 60000, "
                                 "\"interval_ms\": 10000}", clock);
    CHECK(b != NULL);
    bool open = true;
    uint64_t ns = 7;
    CHECK_STATUS(bw_breaker_remaining_open_ns(b, &open, &ns, NULL), BW_OK);
    CHECK(!open);
    CHECK_EQ_U64(ns, 0);
    /* The interval clears the closed state's counts: two failures 10 s apart never trip. */
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    bw_clock_advance_ns(clock, 10 * SEC, NULL);
    CHECK_EQ_INT(one_call(b, BW_OUTCOME_FAILURE), BW_OK);
    CHECK_EQ_U64(state_of(b), BW_STATE_CLOSED);
    /* Opened by hand: timed like a trip. */
    CHECK_STATUS(bw_breaker_transition_to_open(b, NULL), BW_OK);
    CHECK_EQ_U64(state_of(b), BW_STATE_OPEN);
    bw_clock_advance_ns(clock, 20 * SEC, NULL);
    CHECK_STATUS(bw_breaker_remaining_open_ns(b, &open, &ns, NULL), BW_OK);
    CHECK(open);
    CHECK_EQ_U64(ns, 40 * SEC);
    CHECK_STATUS(bw_breaker_transition_to_half_open(b, NULL), BW_OK);
    CHECK_EQ_U64(state_of(b), BW_STATE_HALF_OPEN);
    bw_breaker_event ev[4];
    size_t n = 0;
    CHECK_STATUS(bw_breaker_poll_events(b, ev, 4, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, 2);
    CHECK_EQ_U64(ev[0].reason, BW_TRANSITION_MANUAL_OPEN);
    CHECK_EQ_U64(ev[1].reason, BW_TRANSITION_MANUAL_HALF_OPEN);
    /* Bad input. */
    bw_error e = dirty_error();
    CHECK_STATUS(bw_breaker_transition_to_open(NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_remaining_open_ns(b, NULL, &ns, NULL), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_breaker_remaining_open_ns(b, &open, NULL, NULL), BW_INVALID_ARGUMENT);
    bw_breaker_free(b);
    bw_clock_free(clock);
}

/* ---- call events and the configuration read back ---- */

static int call_callbacks;
static void on_call(const bw_breaker_call_event *ev, void *user_data) {
    (void)ev;
    CHECK(user_data == (void *)&call_callbacks);
    call_callbacks++;
}

TEST(call_events_are_polled_and_called_back_in_order) {
    bw_clock *clock = manual_clock();
    const char *json = "{\"consecutive_failures\": 1, \"open_duration_ms\": 1000}";
    bw_breaker *b = NULL;
    call_callbacks = 0;
    CHECK_STATUS(bw_breaker_new_json_with_listeners(JSON(json), clock, NULL, on_call,
                                                    &call_callbacks, &b, NULL),
                 BW_OK);
    bw_permit p;
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, NULL), BW_OK);
    bw_clock_advance_ns(clock, 5000000, NULL); /* 5 ms */
    CHECK_STATUS(bw_breaker_record(b, p, BW_OUTCOME_IGNORED, NULL), BW_OK);
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, NULL), BW_OK);
    CHECK_STATUS(bw_breaker_record(b, p, BW_OUTCOME_FAILURE, NULL), BW_OK);
    CHECK_STATUS(bw_breaker_try_acquire(b, &p, NULL), BW_REJECTED);
    bw_breaker_call_event ev[8];
    size_t n = 0;
    CHECK_STATUS(bw_breaker_poll_call_events(b, ev, 8, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, 3);
    CHECK_EQ_U64(ev[0].kind, BW_CALL_IGNORED);
    CHECK(ev[0].has_duration);
    CHECK_EQ_U64(ev[0].duration_ns, 5000000);
    CHECK(!ev[2].has_duration);
    CHECK_EQ_U64(ev[1].kind, BW_CALL_FAILURE);
    CHECK_EQ_U64(ev[2].kind, BW_CALL_REJECTED);
    CHECK_EQ_U64(ev[2].reason, BW_REASON_OPEN);
    CHECK_STR_EQ(bw_call_kind_name(ev[2].kind), "rejected");
    CHECK_STR_EQ(bw_call_kind_name(BW_CALL_STALE), "stale");
    CHECK(bw_call_kind_name(BW_CALL_STALE + 1) == NULL);
    CHECK_EQ_INT(call_callbacks, 3);
    CHECK_STATUS(bw_breaker_poll_call_events(b, ev, 8, &n, NULL), BW_OK);
    CHECK_EQ_U64(n, 0);
    bw_breaker_free(b);
    /* A breaker built without call events refuses the poll. */
    b = breaker_json("{}", clock);
    CHECK_STATUS(bw_breaker_poll_call_events(b, ev, 8, &n, NULL), BW_INVALID_ARGUMENT);
    bw_breaker_free(b);
    bw_clock_free(clock);
}

TEST(the_configuration_reads_back_with_defaults_and_rebuilds) {
    bw_breaker *b = breaker_json("{\"name\": \"db\", \"failure_rate\": {\"threshold\": 0.5}, "
                                 "\"interval_ms\": 1500}", NULL);
    CHECK(b != NULL);
    size_t n = 0;
    CHECK_STATUS(bw_breaker_config_json(b, NULL, 0, &n, NULL), BW_BUFFER_TOO_SMALL);
    char *text = malloc(n + 1);
    size_t n2 = 0;
    CHECK_STATUS(bw_breaker_config_json(b, text, n + 1, &n2, NULL), BW_OK);
    CHECK_EQ_U64(n2, n);
    CHECK(strstr(text, "\"minimum_calls\":100") != NULL);
    CHECK(strstr(text, "\"interval_ms\":1500") != NULL);
    bw_breaker *again = breaker_json(text, NULL);
    CHECK(again != NULL);
    char *text2 = malloc(n + 1);
    CHECK_STATUS(bw_breaker_config_json(again, text2, n + 1, &n2, NULL), BW_OK);
    CHECK_STR_EQ(text2, text);
    free(text);
    free(text2);
    bw_breaker_free(again);
    bw_breaker_free(b);
}

int main(void) {
    RUN(every_field_error_names_the_field_as_written);
    RUN(two_trip_policies_are_refused_with_one_message);
    RUN(long_names_are_refused_and_messages_are_never_cut);
    RUN(new_json_checks_its_arguments);
    RUN(the_library_describes_itself);
    RUN(stats_sizing_writes_a_prefix);
    RUN(protocol_counts_and_rejects_with_reasons);
    RUN(protocol_refuses_bad_arguments);
    RUN(call_runs_the_function_and_records_its_verdict);
    RUN(outage_exercise_on_the_manual_clock);
    RUN(event_queue_overflow_counts_dropped_events);
    RUN(registry_shares_breakers_by_name);
    RUN(threads_hammering_one_breaker_keep_exact_counts);
    RUN(sixteen_threads_at_the_half_open_boundary_never_exceed_the_trial);
    RUN(manual_transitions_remaining_open_and_interval);
    RUN(call_events_are_polled_and_called_back_in_order);
    RUN(the_configuration_reads_back_with_defaults_and_rebuilds);
    return check_summary();
}
