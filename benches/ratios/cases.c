/*
 * The C cases of scripts/bench-ratios.sh: the breaker through the C ABI (shared
 * library), the same operations as the Rust cases bw_raw_acquire_record and
 * bw_raw_rejection.
 *
 *   cases count CASE K     runs CASE K times inside measured() (callgrind
 *                          --toggle-collect=measured)
 *   cases wall ROUNDS N    every case N times per round, interleaved; best ns per call
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "breakwater.h"

#define JSON "{\"consecutive_failures\": 5, \"open_duration_ms\": 3600000}"

static bw_breaker *closed_b, *open_b;

static __attribute__((noinline)) int work(void) {
    static volatile int v = 1;
    return v;
}

static int c_acquire_record(void) {
    bw_permit p;
    if (bw_breaker_try_acquire(closed_b, &p, NULL) != BW_OK) return 0;
    int ok = work();
    return bw_breaker_record(closed_b, p, BW_OUTCOME_SUCCESS, NULL) == BW_OK && ok;
}

static int c_rejection(void) {
    bw_permit p;
    return bw_breaker_try_acquire(open_b, &p, NULL) == BW_REJECTED;
}

static int c_admit_rejection(void) {
    bw_breaker_admission a;
    return bw_breaker_admit(open_b, &a, NULL) == BW_OK && a.reason == BW_REASON_OPEN;
}

static int c_baseline(void) { return work(); }

typedef int (*case_fn)(void);
static const struct { const char *name; case_fn f; } CASES[] = {
    {"c_baseline_noop", c_baseline},
    {"c_acquire_record", c_acquire_record},
    {"c_rejection", c_rejection},
    {"c_admit_rejection", c_admit_rejection},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

__attribute__((noinline)) long measured(case_fn f, long k) {
    long ok = 0;
    for (long i = 0; i < k; i++) ok += f();
    return ok;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    bw_breaker_new_json(JSON, strlen(JSON), NULL, &closed_b, NULL);
    bw_breaker_new_json(JSON, strlen(JSON), NULL, &open_b, NULL);
    for (int i = 0; i < 5; i++) {
        bw_permit p;
        bw_breaker_try_acquire(open_b, &p, NULL);
        bw_breaker_record(open_b, p, BW_OUTCOME_FAILURE, NULL);
    }
    if (argc == 4 && strcmp(argv[1], "count") == 0) {
        long k = atol(argv[3]);
        for (size_t i = 0; i < NCASES; i++) {
            if (strcmp(CASES[i].name, argv[2]) == 0) {
                for (int w = 0; w < 1000; w++) CASES[i].f(); /* warm up, not measured */
                long ok = measured(CASES[i].f, k);
                return ok == k ? 0 : 1;
            }
        }
        fprintf(stderr, "unknown case %s\n", argv[2]);
        return 2;
    }
    if (argc == 4 && strcmp(argv[1], "wall") == 0) {
        int rounds = atoi(argv[2]);
        long n = atol(argv[3]);
        double best[NCASES];
        for (size_t i = 0; i < NCASES; i++) { best[i] = 1e30; measured(CASES[i].f, n / 10); }
        for (int r = 0; r < rounds; r++) {
            for (size_t i = 0; i < NCASES; i++) {
                double t0 = now_ns();
                measured(CASES[i].f, n);
                double ns = (now_ns() - t0) / n;
                if (ns < best[i]) best[i] = ns;
            }
        }
        for (size_t i = 0; i < NCASES; i++) printf("%s %.2f\n", CASES[i].name, best[i]);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < NCASES; i++) printf("%s\n", CASES[i].name);
        return 0;
    }
    fprintf(stderr, "usage: cases list | count CASE K | wall ROUNDS N\n");
    return 2;
}
