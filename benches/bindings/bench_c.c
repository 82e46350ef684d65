/*
 * Per-call overhead of the breaker through the C ABI: a guarded no-op in the closed
 * state (try_acquire + record), the same through bw_breaker_call, and a rejection by an
 * open breaker (as an error, and as the answer of bw_breaker_admit, the bindings' hot
 * path). Prints "name ns/op" lines.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "breakwater.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int noop(void *user_data) {
    (void)user_data;
    return 0;
}

#define JSON "{\"consecutive_failures\": 1, \"open_duration_ms\": 3600000}"

static bw_breaker *breaker(int open) {
    bw_breaker *b = NULL;
    bw_breaker_new_json(JSON, strlen(JSON), NULL, &b, NULL);
    if (open) {
        bw_permit p;
        bw_breaker_try_acquire(b, &p, NULL);
        bw_breaker_record(b, p, BW_OUTCOME_FAILURE, NULL);
    }
    return b;
}

#define N 20000000L

static void report(const char *name, double t0, long n) {
    printf("%s %.1f\n", name, (now_ns() - t0) / n);
}

int main(void) {
    bw_error err;
    bw_breaker *closed = breaker(0), *open = breaker(1);
    long bad = 0;
    for (int round = 0; round < 2; round++) { /* the first round warms up */
        double t0 = now_ns();
        for (long i = 0; i < N; i++) {
            bw_permit p;
            if (bw_breaker_try_acquire(closed, &p, &err) != BW_OK) bad++;
            bw_breaker_record(closed, p, BW_OUTCOME_SUCCESS, &err);
        }
        if (round) report("c_protocol_success", t0, N);
        t0 = now_ns();
        for (long i = 0; i < N; i++) {
            int rc;
            if (bw_breaker_call(closed, noop, NULL, &rc, &err) != BW_OK) bad++;
        }
        if (round) report("c_call_success", t0, N);
        t0 = now_ns();
        for (long i = 0; i < N; i++) {
            bw_permit p;
            if (bw_breaker_try_acquire(open, &p, &err) != BW_REJECTED) bad++;
        }
        if (round) report("c_rejection", t0, N);
        t0 = now_ns();
        for (long i = 0; i < N; i++) {
            bw_breaker_admission a;
            if (bw_breaker_admit(open, &a, NULL) != BW_OK || a.reason != BW_REASON_OPEN) bad++;
        }
        if (round) report("c_admit_rejection", t0, N);
    }
    bw_breaker_free(closed);
    bw_breaker_free(open);
    return bad != 0;
}
