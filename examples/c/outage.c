/*
 * The outage exercise in C: a dependency fails, the breaker opens, the fallback
 * answers, the dependency recovers, the breaker closes. On a manual clock: instant.
 */
#include <stdio.h>
#include <string.h>

#include "breakwater.h"

static const char *STATES[] = {"closed", "open", "half-open", "forced-open", "disabled"};

static void on_event(const bw_breaker_event *ev, void *user_data) {
    (void)user_data;
    printf("  [t=%2llus] %s -> %s\n", (unsigned long long)(ev->at_ns / 1000000000ull),
           STATES[ev->from], STATES[ev->to]);
}

static int dependency_up = 1;

static int fetch_price(void *out) {
    if (!dependency_up) return -1; /* failure */
    *(int *)out = 42;
    return 0;
}

static int price(bw_breaker *b) {
    int value = 0, rc = 0;
    bw_error err;
    if (bw_breaker_call(b, fetch_price, &value, &rc, &err) == BW_OK) return value;
    return -1; /* the fallback: a cached or default answer */
}

int main(void) {
    const char *json = "{\"name\": \"prices\", \"open_duration_ms\": 10000,"
                       " \"consecutive_failures\": 3}";
    bw_error err;
    bw_clock *clock = NULL;
    bw_breaker *b = NULL;
    if (bw_clock_manual_new(&clock, &err) != BW_OK ||
        bw_breaker_new_json_with_callback(json, strlen(json), clock, on_event, NULL, &b, &err) !=
            BW_OK) {
        fprintf(stderr, "setup failed: %s\n", err.message);
        return 1;
    }

    printf("price: %d\n", price(b));
    dependency_up = 0;
    puts("the dependency goes down");
    for (int i = 0; i < 5; i++) printf("price: %d\n", price(b));
    bw_clock_advance_ns(clock, 10000000000ull, NULL);
    printf("price (trial, still down): %d\n", price(b));
    dependency_up = 1;
    puts("the dependency recovers");
    bw_clock_advance_ns(clock, 10000000000ull, NULL);
    printf("price: %d\n", price(b));

    bw_breaker_stats m;
    m.size = sizeof m;
    bw_breaker_metrics(b, &m, NULL);
    printf("calls: %llu, rejected while open: %llu\n",
           (unsigned long long)m.total_requests, (unsigned long long)m.rejected_open);
    bw_breaker_free(b);
    bw_clock_free(clock);
    return 0;
}
