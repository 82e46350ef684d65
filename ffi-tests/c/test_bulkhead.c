/*
 * Tests of the semaphore bulkhead exports: JSON configuration, the permit protocol
 * (try_acquire / acquire / release) with exact counts, waits on a manual clock, cancelled
 * waits, bw_bulkhead_call, metrics, a pthread stress test, and bad input.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "bw_test.h"

#define MS 1000000ull
#define J(s) (s), sizeof(s) - 1

static bw_bulkhead *new_bulkhead(const char *json, size_t len, bw_clock *clock) {
    bw_bulkhead *b = NULL;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_bulkhead_new_json(json, len, clock, &b, &e), BW_OK);
    CHECK_STR_EQ(e.message, "");
    return b;
}

static bw_bulkhead_stats metrics(const bw_bulkhead *b) {
    bw_bulkhead_stats m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    CHECK_STATUS(bw_bulkhead_metrics(b, &m, NULL), BW_OK);
    CHECK_EQ_U64(m.size, sizeof m);
    return m;
}

TEST(try_acquire_and_release_count_exactly) {
    bw_bulkhead *b = new_bulkhead(J("{\"max_concurrent\": 2}"), NULL);
    bw_error e = dirty_error();
    CHECK_STATUS(bw_bulkhead_try_acquire(b, &e), BW_OK);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, &e), BW_OK);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, &e), BW_REJECTED);
    CHECK_EQ_INT(e.policy, BW_POLICY_BULKHEAD);
    CHECK_EQ_INT(e.reason, BW_REASON_BULKHEAD_FULL);
    CHECK_STR_EQ(e.message, "bulkhead rejected the call: bulkhead full");
    CHECK_STATUS(bw_bulkhead_acquire(b, 0, NULL, &e), BW_REJECTED);
    bw_bulkhead_stats m = metrics(b);
    CHECK_EQ_U64(m.max, 2);
    CHECK_EQ_U64(m.in_use, 2);
    CHECK_EQ_U64(m.available, 0);
    CHECK_EQ_U64(m.rejected, 2);
    CHECK_EQ_U64(m.peak, 2);
    CHECK_EQ_U64(m.acquired, 2);
    CHECK_STATUS(bw_bulkhead_release(b, &e), BW_OK);
    CHECK_STATUS(bw_bulkhead_release(b, &e), BW_OK);
    /* one release too many: refused, counts unchanged */
    CHECK_STATUS(bw_bulkhead_release(b, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(e.message, "bw_bulkhead_release without a permit held");
    m = metrics(b);
    CHECK_EQ_U64(m.in_use, 0);
    CHECK_EQ_U64(m.available, 2);
    bw_bulkhead_free(b);
}

struct waiter {
    bw_bulkhead *b;
    uint64_t timeout_ns;
    bw_cancel *cancel;
    bw_status status;
    bw_error e;
};

static void *wait_for_permit(void *arg) {
    struct waiter *w = arg;
    w->status = bw_bulkhead_acquire(w->b, w->timeout_ns, w->cancel, &w->e);
    return NULL;
}

static void wait_until_waiting(const bw_bulkhead *b, uint64_t n) {
    for (;;) {
        bw_bulkhead_stats m = metrics(b);
        if (m.waiting >= n) return;
        sched_yield();
    }
}

TEST(a_waiter_gets_a_released_permit) {
    bw_bulkhead *b = new_bulkhead(J("{\"max_concurrent\": 1}"), NULL);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, NULL), BW_OK);
    struct waiter w = {.b = b, .timeout_ns = UINT64_MAX};
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, wait_for_permit, &w), 0);
    wait_until_waiting(b, 1);
    CHECK_STATUS(bw_bulkhead_release(b, NULL), BW_OK);
    CHECK_EQ_INT(pthread_join(t, NULL), 0);
    CHECK_STATUS(w.status, BW_OK);
    bw_bulkhead_stats m = metrics(b);
    CHECK_EQ_U64(m.in_use, 1);
    CHECK_EQ_U64(m.waiting, 0);
    CHECK_STATUS(bw_bulkhead_release(b, NULL), BW_OK);
    bw_bulkhead_free(b);
}

TEST(a_timed_wait_ends_when_the_manual_clock_passes_it) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_bulkhead *b = new_bulkhead(J("{\"max_concurrent\": 1}"), clock);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, NULL), BW_OK);
    struct waiter w = {.b = b, .timeout_ns = 100 * MS};
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, wait_for_permit, &w), 0);
    wait_until_waiting(b, 1);
    CHECK_STATUS(bw_clock_advance_ns(clock, 99 * MS, NULL), BW_OK);
    CHECK_STATUS(bw_clock_advance_ns(clock, 1 * MS, NULL), BW_OK);
    CHECK_EQ_INT(pthread_join(t, NULL), 0);
    CHECK_STATUS(w.status, BW_REJECTED);
    CHECK_EQ_INT(w.e.reason, BW_REASON_BULKHEAD_FULL);
    bw_bulkhead_stats m = metrics(b);
    CHECK_EQ_U64(m.in_use, 1);
    CHECK_EQ_U64(m.waiting, 0);
    CHECK_EQ_U64(m.rejected, 1);
    CHECK_STATUS(bw_bulkhead_release(b, NULL), BW_OK);
    bw_bulkhead_free(b);
    bw_clock_free(clock);
}

TEST(a_cancel_wakes_a_waiter) {
    bw_bulkhead *b = new_bulkhead(J("{\"max_concurrent\": 1}"), NULL);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, NULL), BW_OK);
    struct waiter w = {.b = b, .timeout_ns = UINT64_MAX};
    CHECK_STATUS(bw_cancel_new(&w.cancel, NULL), BW_OK);
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, wait_for_permit, &w), 0);
    wait_until_waiting(b, 1);
    CHECK_STATUS(bw_cancel_cancel(w.cancel, NULL), BW_OK);
    CHECK_EQ_INT(pthread_join(t, NULL), 0);
    CHECK_STATUS(w.status, BW_CANCELLED);
    CHECK_EQ_INT(w.e.reason, BW_REASON_CANCELLED);
    /* an already-cancelled handle refuses even with a free permit */
    CHECK_STATUS(bw_bulkhead_release(b, NULL), BW_OK);
    CHECK_STATUS(bw_bulkhead_acquire(b, UINT64_MAX, w.cancel, NULL), BW_CANCELLED);
    CHECK_EQ_U64(metrics(b).in_use, 0);
    bw_cancel_free(w.cancel);
    bw_bulkhead_free(b);
}

static int add_one(void *ud) {
    int *n = ud;
    return ++*n == 2 ? 7 : 0;
}

struct reentrant {
    bw_bulkhead *b;
    bw_status inner;
};

static int try_inside(void *ud) {
    struct reentrant *r = ud;
    r->inner = bw_bulkhead_try_acquire(r->b, NULL);
    return 0;
}

TEST(call_holds_a_permit_around_the_function) {
    bw_bulkhead *b = new_bulkhead(J("{\"max_concurrent\": 1, \"max_wait_ms\": 0}"), NULL);
    int n = 0, out = -1;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_bulkhead_call(b, add_one, &n, NULL, &out, &e), BW_OK);
    CHECK_EQ_INT(out, 0);
    CHECK_STATUS(bw_bulkhead_call(b, add_one, &n, NULL, &out, &e), BW_FAILED);
    CHECK_EQ_INT(out, 7);
    CHECK_STR_EQ(e.message, "the guarded function returned 7");
    CHECK_EQ_INT(e.policy, BW_POLICY_BULKHEAD);
    struct reentrant r = {.b = b};
    CHECK_STATUS(bw_bulkhead_call(b, try_inside, &r, NULL, &out, NULL), BW_OK);
    CHECK_STATUS(r.inner, BW_REJECTED); /* the call held the only permit */
    CHECK_STATUS(bw_bulkhead_try_acquire(b, NULL), BW_OK);
    out = 99;
    CHECK_STATUS(bw_bulkhead_call(b, add_one, &n, NULL, &out, &e), BW_REJECTED);
    CHECK_EQ_INT(out, 99);
    CHECK_EQ_INT(n, 2);
    CHECK_STATUS(bw_bulkhead_release(b, NULL), BW_OK);
    CHECK_EQ_U64(metrics(b).in_use, 0);
    bw_bulkhead_free(b);
}

#define THREADS 8
#define ROUNDS 100000
#define MAX 3

struct stress {
    bw_bulkhead *b;
    atomic_int inside;
    atomic_int worst;
    atomic_int errors;
};

static void *hammer(void *arg) {
    struct stress *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        bw_status st = (i % 2) ? bw_bulkhead_acquire(s->b, UINT64_MAX, NULL, NULL)
                               : bw_bulkhead_try_acquire(s->b, NULL);
        if (st == BW_REJECTED) continue;
        if (st != BW_OK) {
            atomic_fetch_add(&s->errors, 1);
            continue;
        }
        int now = atomic_fetch_add(&s->inside, 1) + 1;
        int worst = atomic_load(&s->worst);
        while (now > worst && !atomic_compare_exchange_weak(&s->worst, &worst, now)) {
        }
        atomic_fetch_sub(&s->inside, 1);
        if (bw_bulkhead_release(s->b, NULL) != BW_OK) atomic_fetch_add(&s->errors, 1);
    }
    return NULL;
}

TEST(eight_threads_never_exceed_the_permits) {
    struct stress s = {.b = new_bulkhead(J("{\"max_concurrent\": 3}"), NULL)};
    atomic_init(&s.inside, 0);
    atomic_init(&s.worst, 0);
    atomic_init(&s.errors, 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK_EQ_INT(pthread_create(&t[i], NULL, hammer, &s), 0);
    for (int i = 0; i < THREADS; i++) CHECK_EQ_INT(pthread_join(t[i], NULL), 0);
    CHECK_EQ_INT(atomic_load(&s.errors), 0);
    CHECK(atomic_load(&s.worst) <= MAX);
    CHECK(atomic_load(&s.worst) >= 1);
    bw_bulkhead_stats m = metrics(s.b);
    CHECK_EQ_U64(m.in_use, 0);
    CHECK_EQ_U64(m.available, MAX);
    CHECK_EQ_U64(m.waiting, 0);
    CHECK(m.peak <= MAX);
    CHECK_EQ_U64(m.acquired + m.rejected, (uint64_t)THREADS * ROUNDS);
    bw_bulkhead_free(s.b);
}

TEST(free_while_permits_are_held_does_not_crash) {
    bw_bulkhead *b = new_bulkhead(J("{\"max_concurrent\": 2}"), NULL);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, NULL), BW_OK);
    CHECK_STATUS(bw_bulkhead_try_acquire(b, NULL), BW_OK);
    bw_bulkhead_free(b);
}

TEST(bad_configuration_names_the_field) {
    static const struct {
        const char *json;
        const char *prefix;
    } cases[] = {
        {"{\"max_concurrent\": 0}", "invalid bulkhead configuration: max_concurrent"},
        {"{\"max_concurrent\": -1}", "invalid bulkhead configuration: max_concurrent: invalid value"},
        {"{\"max_wait_ms\": -1}", "invalid bulkhead configuration: max_wait_ms"},
        {"{\"max_wait\": 1}", "invalid bulkhead configuration: unknown key \"max_wait\" (did you mean \"max_wait_ms\"?)"},
        {"{", "invalid bulkhead configuration: malformed JSON: EOF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bw_bulkhead *b = SENTINEL_PTR;
        bw_error e = dirty_error();
        CHECK_STATUS(bw_bulkhead_new_json(cases[i].json, strlen(cases[i].json), NULL, &b, &e),
                     BW_INVALID_CONFIG);
        CHECK(b == SENTINEL_PTR);
        CHECK_EQ_INT(e.policy, BW_POLICY_BULKHEAD);
        CHECK_STR_PREFIX(e.message, cases[i].prefix);
    }
}

TEST(bad_arguments_are_refused) {
    bw_bulkhead *b = SENTINEL_PTR;
    bw_error e = dirty_error();
    CHECK_STATUS(bw_bulkhead_new_json(NULL, 2, NULL, &b, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_bulkhead_new_json(NULL, 0, NULL, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK(b == SENTINEL_PTR);
    CHECK_STATUS(bw_bulkhead_try_acquire(NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "bulkhead must not be NULL");
    CHECK_STR_EQ(last_error(), "bulkhead must not be NULL");
    CHECK_STATUS(bw_bulkhead_acquire(NULL, 0, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_bulkhead_release(NULL, &e), BW_INVALID_ARGUMENT);
    int out = 5;
    b = new_bulkhead(NULL, 0, NULL);
    CHECK_STATUS(bw_bulkhead_call(NULL, add_one, &out, NULL, &out, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_bulkhead_call(b, NULL, &out, NULL, &out, &e), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(e.message, "fn_ must not be NULL");
    CHECK_STATUS(bw_bulkhead_call(b, add_one, &out, NULL, NULL, &e), BW_INVALID_ARGUMENT);
    CHECK_EQ_INT(out, 5);
    CHECK_EQ_U64(metrics(b).in_use, 0); /* a refused call holds nothing */
    CHECK_EQ_U64(metrics(b).max, 25);
    bw_bulkhead_stats m;
    memset(&m, 0, sizeof m);
    CHECK_STATUS(bw_bulkhead_metrics(NULL, &m, &e), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_bulkhead_metrics(b, NULL, &e), BW_INVALID_ARGUMENT);
    m.size = 3;
    CHECK_STATUS(bw_bulkhead_metrics(b, &m, &e), BW_INVALID_ARGUMENT);
    m.size = offsetof(bw_bulkhead_stats, available);
    m.available = 777;
    CHECK_STATUS(bw_bulkhead_metrics(b, &m, &e), BW_OK);
    CHECK_EQ_U64(m.max, 25);
    CHECK_EQ_U64(m.available, 777);
    bw_bulkhead_free(b);
    bw_bulkhead_free(NULL);
}

int main(void) {
    RUN(try_acquire_and_release_count_exactly);
    RUN(a_waiter_gets_a_released_permit);
    RUN(a_timed_wait_ends_when_the_manual_clock_passes_it);
    RUN(a_cancel_wakes_a_waiter);
    RUN(call_holds_a_permit_around_the_function);
    RUN(eight_threads_never_exceed_the_permits);
    RUN(free_while_permits_are_held_does_not_crash);
    RUN(bad_configuration_names_the_field);
    RUN(bad_arguments_are_refused);
    return check_summary();
}
