/*
 * Tests of the ABI foundation: versions, status names, the error object, the thread's
 * last error, clocks and cancellation handles, including bad input (NULL for every
 * pointer, out-of-range enum values, free of NULL).
 */
#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include "bw_test.h"

#ifndef BW_EXPECTED_VERSION
#error "compile with -DBW_EXPECTED_VERSION=\"x.y.z\" (the crate version)"
#endif

_Static_assert(sizeof(bw_error) == 1056, "bw_error is 1056 bytes");
_Static_assert(offsetof(bw_error, status) == 0, "bw_error.status");
_Static_assert(offsetof(bw_error, policy) == 4, "bw_error.policy");
_Static_assert(offsetof(bw_error, reason) == 8, "bw_error.reason");
_Static_assert(offsetof(bw_error, has_retry_after) == 12, "bw_error.has_retry_after");
_Static_assert(offsetof(bw_error, retry_after_ns) == 16, "bw_error.retry_after_ns");
_Static_assert(offsetof(bw_error, message_len) == 24, "bw_error.message_len");
_Static_assert(offsetof(bw_error, message) == 32, "bw_error.message");
_Static_assert(BW_ERROR_MESSAGE_LEN == 1024, "message size");

/* ---- versions and names ---- */

TEST(version_is_the_crate_version) {
    CHECK_STR_EQ(bw_version(), BW_EXPECTED_VERSION);
    CHECK(bw_version() == bw_version()); /* static */
    CHECK_EQ_INT(bw_abi_version(), BW_ABI_VERSION);
}

TEST(every_status_has_its_name) {
    CHECK_STR_EQ(bw_status_name(BW_OK), "BW_OK");
    CHECK_STR_EQ(bw_status_name(BW_REJECTED), "BW_REJECTED");
    CHECK_STR_EQ(bw_status_name(BW_TIMED_OUT), "BW_TIMED_OUT");
    CHECK_STR_EQ(bw_status_name(BW_FAILED), "BW_FAILED");
    CHECK_STR_EQ(bw_status_name(BW_INVALID_ARGUMENT), "BW_INVALID_ARGUMENT");
    CHECK_STR_EQ(bw_status_name(BW_INVALID_CONFIG), "BW_INVALID_CONFIG");
    CHECK_STR_EQ(bw_status_name(BW_PANIC), "BW_PANIC");
    CHECK_STR_EQ(bw_status_name(BW_STALE), "BW_STALE");
    CHECK_STR_EQ(bw_status_name(BW_CANCELLED), "BW_CANCELLED");
    CHECK_STR_EQ(bw_status_name(BW_SHUTDOWN), "BW_SHUTDOWN");
    CHECK_STR_EQ(bw_status_name(BW_BUFFER_TOO_SMALL), "BW_BUFFER_TOO_SMALL");
}

TEST(the_status_numbers_are_fixed) {
    CHECK_EQ_INT(BW_OK, 0);
    CHECK_EQ_INT(BW_REJECTED, 1);
    CHECK_EQ_INT(BW_TIMED_OUT, 2);
    CHECK_EQ_INT(BW_FAILED, 3);
    CHECK_EQ_INT(BW_INVALID_ARGUMENT, 4);
    CHECK_EQ_INT(BW_INVALID_CONFIG, 5);
    CHECK_EQ_INT(BW_PANIC, 6);
    CHECK_EQ_INT(BW_STALE, 7);
    CHECK_EQ_INT(BW_CANCELLED, 8);
    CHECK_EQ_INT(BW_SHUTDOWN, 9);
    CHECK_EQ_INT(BW_BUFFER_TOO_SMALL, 10);
    CHECK_EQ_INT(BW_REASON_OPEN, 1);
    CHECK_EQ_INT(BW_REASON_CANCELLED, 10);
    CHECK_EQ_INT(BW_POLICY_CIRCUIT_BREAKER, 1);
    CHECK_EQ_INT(BW_POLICY_HTTP, 11);
}

TEST(unknown_statuses_are_named_unknown) {
    CHECK_STR_EQ(bw_status_name(-1), "BW_UNKNOWN");
    CHECK_STR_EQ(bw_status_name(11), "BW_UNKNOWN");
    CHECK_STR_EQ(bw_status_name(INT32_MAX), "BW_UNKNOWN");
    CHECK_STR_EQ(bw_status_name(INT32_MIN), "BW_UNKNOWN");
}

/* ---- manual clock ---- */

TEST(manual_clock_starts_at_zero_and_advances) {
    bw_clock *clock = NULL;
    bw_error err = dirty_error();
    uint64_t now = 99;
    uint32_t kind = 99;
    CHECK_STATUS(bw_clock_manual_new(&clock, &err), BW_OK);
    CHECK(clock != NULL);
    CHECK_EQ_INT(err.status, BW_OK);
    CHECK_STR_EQ(err.message, "");
    CHECK_STATUS(bw_clock_kind(clock, &kind, NULL), BW_OK);
    CHECK_EQ_INT(kind, BW_CLOCK_MANUAL);
    CHECK_STATUS(bw_clock_now_ns(clock, &now, &err), BW_OK);
    CHECK_EQ_U64(now, 0);
    CHECK_STATUS(bw_clock_advance_ns(clock, 1500, &err), BW_OK);
    CHECK_STATUS(bw_clock_advance_ns(clock, 0, &err), BW_OK);
    CHECK_STATUS(bw_clock_now_ns(clock, &now, &err), BW_OK);
    CHECK_EQ_U64(now, 1500);
    CHECK_STATUS(bw_clock_advance_ns(clock, 60ULL * 1000000000ULL, NULL), BW_OK);
    CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
    CHECK_EQ_U64(now, 60000001500ULL);
    bw_clock_free(clock);
}

TEST(manual_clock_saturates_instead_of_overflowing) {
    bw_clock *clock = NULL;
    uint64_t now = 0;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    CHECK_STATUS(bw_clock_advance_ns(clock, UINT64_MAX - 10, NULL), BW_OK);
    CHECK_STATUS(bw_clock_advance_ns(clock, 100, NULL), BW_OK);
    CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
    CHECK_EQ_U64(now, UINT64_MAX);
    bw_clock_free(clock);
}

struct advance_args {
    bw_clock *clock;
    int rounds;
    bw_status worst;
};

static void *advance_many(void *p) {
    struct advance_args *a = p;
    a->worst = BW_OK;
    for (int i = 0; i < a->rounds; i++) {
        bw_error err;
        bw_status s = bw_clock_advance_ns(a->clock, 3, &err);
        if (s != BW_OK) a->worst = s;
    }
    return NULL;
}

TEST(manual_clock_is_shared_by_threads) {
    enum { THREADS = 4, ROUNDS = 2000 };
    bw_clock *clock = NULL;
    pthread_t threads[THREADS];
    struct advance_args args[THREADS];
    uint64_t now = 0;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    for (int i = 0; i < THREADS; i++) {
        args[i].clock = clock;
        args[i].rounds = ROUNDS;
        CHECK_EQ_INT(pthread_create(&threads[i], NULL, advance_many, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ_INT(pthread_join(threads[i], NULL), 0);
        CHECK_STATUS(args[i].worst, BW_OK);
    }
    CHECK_STATUS(bw_clock_now_ns(clock, &now, NULL), BW_OK);
    CHECK_EQ_U64(now, (uint64_t)THREADS * ROUNDS * 3);
    bw_clock_free(clock);
}

/* ---- monotonic clock ---- */

TEST(monotonic_clock_reads_and_refuses_to_advance) {
    bw_clock *clock = NULL;
    bw_error err = dirty_error();
    uint64_t a = 0, b = 0;
    uint32_t kind = 99;
    CHECK_STATUS(bw_clock_monotonic_new(&clock, &err), BW_OK);
    CHECK_STATUS(bw_clock_kind(clock, &kind, &err), BW_OK);
    CHECK_EQ_INT(kind, BW_CLOCK_MONOTONIC);
    CHECK_STATUS(bw_clock_now_ns(clock, &a, &err), BW_OK);
    CHECK_STATUS(bw_clock_now_ns(clock, &b, &err), BW_OK);
    CHECK(b >= a);
    CHECK(a > 0);
    err = dirty_error();
    CHECK_STATUS(bw_clock_advance_ns(clock, 1, &err), BW_INVALID_ARGUMENT);
    CHECK_EQ_INT(err.status, BW_INVALID_ARGUMENT);
    CHECK_EQ_INT(err.policy, BW_POLICY_NONE);
    CHECK_EQ_INT(err.reason, BW_REASON_NONE);
    CHECK(!err.has_retry_after);
    CHECK_EQ_U64(err.retry_after_ns, 0);
    CHECK_STR_PREFIX(err.message, "clock is not a manual clock");
    CHECK_STR_PREFIX(last_error(), "clock is not a manual clock");
    bw_clock_free(clock);
}

TEST(clock_new_takes_a_range_checked_kind) {
    bw_clock *clock = SENTINEL_PTR;
    bw_error err = dirty_error();
    uint32_t kind = 99;
    CHECK_STATUS(bw_clock_new(BW_CLOCK_MANUAL, &clock, &err), BW_OK);
    CHECK_STATUS(bw_clock_kind(clock, &kind, &err), BW_OK);
    CHECK_EQ_INT(kind, BW_CLOCK_MANUAL);
    bw_clock_free(clock);
    CHECK_STATUS(bw_clock_new(BW_CLOCK_MONOTONIC, &clock, &err), BW_OK);
    CHECK_STATUS(bw_clock_kind(clock, &kind, &err), BW_OK);
    CHECK_EQ_INT(kind, BW_CLOCK_MONOTONIC);
    bw_clock_free(clock);

    clock = SENTINEL_PTR;
    CHECK_STATUS(bw_clock_new(2, &clock, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message,
                 "kind: 2 is not a valid value (expected 0 (BW_CLOCK_MONOTONIC) or 1 "
                 "(BW_CLOCK_MANUAL))");
    CHECK(clock == SENTINEL_PTR);
    CHECK_STATUS(bw_clock_new(UINT32_MAX, &clock, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(err.message, "kind: 4294967295 is not a valid value");
    CHECK(clock == SENTINEL_PTR);
    /* Bad kind and NULL out: the first bad parameter is reported. */
    CHECK_STATUS(bw_clock_new(7, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_PREFIX(err.message, "kind: 7");
}

TEST(clock_functions_refuse_null_pointers) {
    bw_clock *clock = NULL;
    bw_error err = dirty_error();
    uint64_t now = 77;
    uint32_t kind = 77;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);

    CHECK_STATUS(bw_clock_new(BW_CLOCK_MANUAL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK_STATUS(bw_clock_monotonic_new(NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK_STATUS(bw_clock_manual_new(NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");

    CHECK_STATUS(bw_clock_kind(NULL, &kind, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "clock must not be NULL");
    CHECK_STATUS(bw_clock_kind(clock, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out_kind must not be NULL");
    CHECK_EQ_INT(kind, 77);

    CHECK_STATUS(bw_clock_now_ns(NULL, &now, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "clock must not be NULL");
    CHECK_STATUS(bw_clock_now_ns(clock, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out_ns must not be NULL");
    CHECK_EQ_U64(now, 77);

    CHECK_STATUS(bw_clock_advance_ns(NULL, 5, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "clock must not be NULL");
    CHECK_STR_EQ(last_error(), "clock must not be NULL");

    /* The same refusals without an error object. */
    CHECK_STATUS(bw_clock_manual_new(NULL, NULL), BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_clock_now_ns(NULL, NULL, NULL), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(last_error(), "clock must not be NULL");
    CHECK_STATUS(bw_clock_advance_ns(NULL, 5, NULL), BW_INVALID_ARGUMENT);

    bw_clock_free(clock);
    bw_clock_free(NULL);
}

/* ---- cancellation ---- */

TEST(cancel_handle_cancels_once_and_for_all) {
    bw_cancel *cancel = NULL;
    bw_error err = dirty_error();
    bool cancelled = true;
    CHECK_STATUS(bw_cancel_new(&cancel, &err), BW_OK);
    CHECK(cancel != NULL);
    CHECK_STATUS(bw_cancel_is_cancelled(cancel, &cancelled, &err), BW_OK);
    CHECK(!cancelled);
    CHECK_STATUS(bw_cancel_cancel(cancel, &err), BW_OK);
    CHECK_STATUS(bw_cancel_cancel(cancel, NULL), BW_OK); /* idempotent */
    CHECK_STATUS(bw_cancel_is_cancelled(cancel, &cancelled, NULL), BW_OK);
    CHECK(cancelled);
    bw_cancel_free(cancel);
}

TEST(cancel_functions_refuse_null_pointers) {
    bw_cancel *cancel = NULL;
    bw_error err = dirty_error();
    bool cancelled = true;
    CHECK_STATUS(bw_cancel_new(&cancel, NULL), BW_OK);
    CHECK_STATUS(bw_cancel_new(NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK_STATUS(bw_cancel_cancel(NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "cancel must not be NULL");
    CHECK_STATUS(bw_cancel_is_cancelled(NULL, &cancelled, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "cancel must not be NULL");
    CHECK_STATUS(bw_cancel_is_cancelled(cancel, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out_cancelled must not be NULL");
    CHECK(cancelled); /* untouched */
    CHECK_STATUS(bw_cancel_new(NULL, NULL), BW_INVALID_ARGUMENT);
    bw_cancel_free(cancel);
    bw_cancel_free(NULL);
}

/* ---- the error object and the last error ---- */

TEST(error_object_is_reset_by_a_success) {
    bw_clock *clock = NULL;
    bw_error err = dirty_error();
    uint64_t now = 0;
    CHECK_STATUS(bw_clock_now_ns(NULL, &now, &err), BW_INVALID_ARGUMENT);
    CHECK_EQ_INT(err.status, BW_INVALID_ARGUMENT);
    CHECK_STATUS(bw_clock_manual_new(&clock, &err), BW_OK);
    CHECK_EQ_INT(err.status, BW_OK);
    CHECK_EQ_INT(err.policy, BW_POLICY_NONE);
    CHECK_EQ_INT(err.reason, BW_REASON_NONE);
    CHECK(!err.has_retry_after);
    CHECK_EQ_U64(err.retry_after_ns, 0);
    CHECK_STR_EQ(err.message, "");
    bw_clock_free(clock);
}

TEST(last_error_message_reports_sizes_and_checks_arguments) {
    const char *expected = "out must not be NULL";
    size_t expected_len = strlen(expected);
    char small[8];
    char exact[64];
    size_t len = 12345;
    CHECK_STATUS(bw_clock_manual_new(NULL, NULL), BW_INVALID_ARGUMENT);

    /* Ask for the length. */
    CHECK_STATUS(bw_last_error_message(NULL, 0, &len), BW_BUFFER_TOO_SMALL);
    CHECK_EQ_U64(len, expected_len);
    /* Too small: reports the length, leaves the buffer alone. */
    memset(small, 'x', sizeof small);
    len = 0;
    CHECK_STATUS(bw_last_error_message(small, sizeof small, &len), BW_BUFFER_TOO_SMALL);
    CHECK_EQ_U64(len, expected_len);
    CHECK(small[0] == 'x' && small[7] == 'x');
    /* The length without room for the NUL is too small. */
    CHECK_STATUS(bw_last_error_message(exact, expected_len, &len), BW_BUFFER_TOO_SMALL);
    /* Length + 1 fits. */
    memset(exact, 'x', sizeof exact);
    len = 0;
    CHECK_STATUS(bw_last_error_message(exact, expected_len + 1, &len), BW_OK);
    CHECK_EQ_U64(len, expected_len);
    CHECK_STR_EQ(exact, expected);

    /* Bad arguments are refused and do not replace the message. */
    CHECK_STATUS(bw_last_error_message(exact, sizeof exact, NULL), BW_INVALID_ARGUMENT);
    len = 999;
    CHECK_STATUS(bw_last_error_message(NULL, 5, &len), BW_INVALID_ARGUMENT);
    CHECK_EQ_U64(len, 999);
    CHECK_STR_EQ(last_error(), expected);

    /* A success does not clear it. */
    CHECK_STR_EQ(bw_version(), BW_EXPECTED_VERSION);
    {
        bw_cancel *c = NULL;
        CHECK_STATUS(bw_cancel_new(&c, NULL), BW_OK);
        bw_cancel_free(c);
    }
    CHECK_STR_EQ(last_error(), expected);
}

struct thread_error {
    char before[128];
    char after[128];
};

static void *fail_on_another_thread(void *p) {
    struct thread_error *t = p;
    size_t len = 0;
    t->before[0] = '?';
    bw_last_error_message(t->before, sizeof t->before, &len);
    bw_cancel_cancel(NULL, NULL);
    bw_last_error_message(t->after, sizeof t->after, &len);
    return NULL;
}

TEST(last_error_is_per_thread) {
    pthread_t thread;
    struct thread_error t;
    CHECK_STATUS(bw_clock_new(42, NULL, NULL), BW_INVALID_ARGUMENT);
    CHECK_EQ_INT(pthread_create(&thread, NULL, fail_on_another_thread, &t), 0);
    CHECK_EQ_INT(pthread_join(thread, NULL), 0);
    CHECK_STR_EQ(t.before, "");
    CHECK_STR_EQ(t.after, "cancel must not be NULL");
    CHECK_STR_PREFIX(last_error(), "kind: 42 is not a valid value");
}

int main(void) {
    RUN(version_is_the_crate_version);
    RUN(every_status_has_its_name);
    RUN(the_status_numbers_are_fixed);
    RUN(unknown_statuses_are_named_unknown);
    RUN(manual_clock_starts_at_zero_and_advances);
    RUN(manual_clock_saturates_instead_of_overflowing);
    RUN(manual_clock_is_shared_by_threads);
    RUN(monotonic_clock_reads_and_refuses_to_advance);
    RUN(clock_new_takes_a_range_checked_kind);
    RUN(clock_functions_refuse_null_pointers);
    RUN(cancel_handle_cancels_once_and_for_all);
    RUN(cancel_functions_refuse_null_pointers);
    RUN(error_object_is_reset_by_a_success);
    RUN(last_error_message_reports_sizes_and_checks_arguments);
    RUN(last_error_is_per_thread);
    return check_summary();
}
