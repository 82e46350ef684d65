/*
 * Tests of the thread-pool bulkhead through the C ABI: bw_pool_* and bw_task_*,
 * including bad input. The story: payments keep completing while every email worker is
 * blocked; a full pool rejects; a shutdown gives every task exactly one outcome. Every
 * blocked callback is released and every handle freed before the program exits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bw_test.h"

#define JSON(s) (s), (sizeof(s) - 1)

/* A gate callbacks block on until it is opened. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int entered; /* callbacks that reached the gate */
} gate;

static void gate_init(gate *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = false;
    g->entered = 0;
}

static void gate_destroy(gate *g) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

static void gate_open(gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits until `n` callbacks have entered the gate. */
static void gate_wait_entered(gate *g, int n) {
    pthread_mutex_lock(&g->mu);
    while (g->entered < n) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void blocked_task(void *ud) {
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

typedef struct {
    pthread_mutex_t mu;
    int runs;
    char thread_name[32];
} counter;

static void count_task(void *ud) {
    counter *c = ud;
    pthread_mutex_lock(&c->mu);
    c->runs++;
    pthread_getname_np(pthread_self(), c->thread_name, sizeof c->thread_name);
    pthread_mutex_unlock(&c->mu);
}

static bw_pool *new_pool(const char *json, size_t len) {
    bw_pool *pool = NULL;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pool_new_json(json, len, NULL, &pool, &err), BW_OK);
    CHECK(pool != NULL);
    return pool;
}

/* ---- construction ---- */

TEST(new_json_accepts_a_configuration_and_defaults) {
    bw_pool *pool = new_pool(JSON("{\"name\": \"payments\", \"workers\": 3, \"queue_capacity\": 7}"));
    bw_pool_stats m;
    m.size = sizeof m;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pool_metrics(pool, &m, &err), BW_OK);
    CHECK_EQ_INT(err.status, BW_OK);
    CHECK_EQ_INT(m.workers, 3);
    CHECK_EQ_INT(m.queue_capacity, 7);
    CHECK_EQ_INT(m.spawned, 0);
    CHECK_EQ_U64(m.completed, 0);
    bw_pool_free(pool);

    pool = new_pool(NULL, 0); /* defaults: 10 workers, a queue of 100 */
    CHECK_STATUS(bw_pool_metrics(pool, &m, NULL), BW_OK);
    CHECK_EQ_INT(m.workers, 10);
    CHECK_EQ_INT(m.queue_capacity, 100);
    bw_pool_free(pool);

    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    pool = NULL;
    CHECK_STATUS(bw_pool_new_json(JSON("  "), clock, &pool, NULL), BW_OK);
    bw_clock_free(clock); /* the pool keeps its own reference */
    bw_pool_free(pool);
}

TEST(new_json_refuses_bad_configurations) {
    bw_pool *pool = SENTINEL_PTR;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pool_new_json(JSON("{\"workers\": 0}"), NULL, &pool, &err), BW_INVALID_CONFIG);
    CHECK(pool == SENTINEL_PTR);
    CHECK_EQ_INT(err.policy, BW_POLICY_THREAD_POOL);
    CHECK(strstr(err.message, "workers") != NULL);
    CHECK_STATUS(bw_pool_new_json(JSON("{\"workers\": -1}"), NULL, &pool, &err), BW_INVALID_CONFIG);
    CHECK_STR_PREFIX(err.message, "invalid thread pool configuration: workers:");
    CHECK_STATUS(bw_pool_new_json(JSON("{\"worker\": 2}"), NULL, &pool, &err), BW_INVALID_CONFIG);
    CHECK(strstr(err.message, "unknown key") != NULL);
    CHECK_STATUS(bw_pool_new_json(JSON("{\"name\": \"a\\u0000b\"}"), NULL, &pool, &err),
                 BW_INVALID_CONFIG);
    CHECK(strstr(err.message, "name") != NULL);
    CHECK_STATUS(bw_pool_new_json(JSON("{"), NULL, &pool, &err), BW_INVALID_CONFIG);
    CHECK(pool == SENTINEL_PTR);
}

TEST(new_json_refuses_null_arguments) {
    bw_pool *pool = SENTINEL_PTR;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pool_new_json(NULL, 3, NULL, &pool, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "json must not be NULL when json_len is not 0");
    CHECK(pool == SENTINEL_PTR);
    CHECK_STATUS(bw_pool_new_json(NULL, 0, NULL, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK_STR_EQ(last_error(), "out must not be NULL");
}

/* ---- submit and join ---- */

TEST(tasks_run_on_named_workers) {
    bw_pool *pool = new_pool(JSON("{\"name\": \"payments\", \"workers\": 1}"));
    counter c = {PTHREAD_MUTEX_INITIALIZER, 0, ""};
    bw_task *task = NULL;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pool_submit(pool, count_task, &c, &task, &err), BW_OK);
    CHECK(task != NULL);
    CHECK_STATUS(bw_task_join(task, UINT64_MAX, NULL, &err), BW_OK);
    CHECK_EQ_INT(err.status, BW_OK);
    CHECK_EQ_INT(c.runs, 1);
    CHECK_STR_EQ(c.thread_name, "payments-0");
    /* The outcome is taken once. */
    CHECK_STATUS(bw_task_join(task, 0, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "already taken") != NULL);
    bw_task_free(task);

    /* A detached task (out NULL) still runs. */
    CHECK_STATUS(bw_pool_submit(pool, count_task, &c, NULL, &err), BW_OK);
    bw_shutdown_report r;
    CHECK_STATUS(bw_pool_shutdown(pool, BW_SHUTDOWN_DRAIN, UINT64_MAX, &r, &err), BW_OK);
    CHECK(r.terminated);
    CHECK_EQ_INT(c.runs, 2);
    bw_pool_stats m;
    m.size = sizeof m;
    CHECK_STATUS(bw_pool_metrics(pool, &m, &err), BW_OK);
    CHECK_EQ_U64(m.completed, 2);
    CHECK_EQ_U64(m.panicked, 0);
    CHECK_EQ_INT(m.spawned, 1);
    bw_pool_free(pool);
}

TEST(submit_and_join_refuse_null_arguments) {
    bw_pool *pool = new_pool(JSON("{\"workers\": 1}"));
    bw_task *task = SENTINEL_PTR;
    bw_error err = dirty_error();
    counter c = {PTHREAD_MUTEX_INITIALIZER, 0, ""};
    CHECK_STATUS(bw_pool_submit(NULL, count_task, &c, &task, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "pool must not be NULL");
    CHECK_STATUS(bw_pool_submit(pool, NULL, &c, &task, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "callback must not be NULL");
    CHECK(task == SENTINEL_PTR);
    CHECK_STATUS(bw_task_join(NULL, 0, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "task must not be NULL");
    CHECK_STATUS(bw_pool_metrics(NULL, NULL, &err), BW_INVALID_ARGUMENT);
    bw_pool_stats m;
    m.size = sizeof m;
    CHECK_STATUS(bw_pool_metrics(NULL, &m, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "h must not be NULL");
    CHECK_STATUS(bw_pool_metrics(pool, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "out must not be NULL");
    CHECK_STATUS(bw_pool_shutdown(NULL, BW_SHUTDOWN_DRAIN, 0, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message, "pool must not be NULL");
    CHECK_STATUS(bw_pool_shutdown(pool, 2, 0, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_STR_EQ(err.message,
                 "mode: 2 is not a valid value (expected 0 (BW_SHUTDOWN_DRAIN) or 1 (BW_SHUTDOWN_CANCEL))");
    CHECK_STATUS(bw_pool_shutdown(pool, UINT32_MAX, 0, NULL, &err), BW_INVALID_ARGUMENT);
    CHECK_EQ_INT(c.runs, 0);
    bw_pool_free(pool);
    bw_pool_free(NULL);
    bw_task_free(NULL);
}

TEST(join_times_out_and_is_cancelled_while_the_task_goes_on) {
    bw_clock *clock = NULL;
    CHECK_STATUS(bw_clock_manual_new(&clock, NULL), BW_OK);
    bw_pool *pool = NULL;
    CHECK_STATUS(bw_pool_new_json(JSON("{\"workers\": 1}"), clock, &pool, NULL), BW_OK);
    gate g;
    gate_init(&g);
    bw_task *task = NULL;
    bw_error err = dirty_error();
    CHECK_STATUS(bw_pool_submit(pool, blocked_task, &g, &task, &err), BW_OK);
    gate_wait_entered(&g, 1);

    /* A zero timeout on a manual clock times out at once, without sleeping. */
    CHECK_STATUS(bw_task_join(task, 0, NULL, &err), BW_TIMED_OUT);
    CHECK_EQ_INT(err.policy, BW_POLICY_THREAD_POOL);

    bw_cancel *cancel = NULL;
    CHECK_STATUS(bw_cancel_new(&cancel, NULL), BW_OK);
    CHECK_STATUS(bw_cancel_cancel(cancel, NULL), BW_OK);
    CHECK_STATUS(bw_task_join(task, UINT64_MAX, cancel, &err), BW_CANCELLED);
    CHECK_EQ_INT(err.reason, BW_REASON_CANCELLED);

    gate_open(&g);
    CHECK_STATUS(bw_task_join(task, UINT64_MAX, NULL, &err), BW_OK);
    bw_task_free(task);
    bw_cancel_free(cancel);
    CHECK_STATUS(bw_pool_shutdown(pool, BW_SHUTDOWN_CANCEL, UINT64_MAX, NULL, &err), BW_OK);
    bw_pool_free(pool);
    bw_clock_free(clock);
    gate_destroy(&g);
}

/* ---- the story ---- */

TEST(payments_complete_while_email_workers_are_blocked) {
    bw_pool *payments = new_pool(JSON("{\"name\": \"payments\", \"workers\": 10, \"queue_capacity\": 100}"));
    bw_pool *email = new_pool(JSON("{\"name\": \"email\", \"workers\": 5, \"queue_capacity\": 2}"));
    gate g;
    gate_init(&g);
    bw_task *stuck[7];
    bw_error err = dirty_error();
    for (int i = 0; i < 7; i++) CHECK_STATUS(bw_pool_submit(email, blocked_task, &g, &stuck[i], &err), BW_OK);
    gate_wait_entered(&g, 5); /* every email worker is blocked; 2 tasks queued */

    /* The email pool is full: the next task is rejected at once. */
    bw_task *extra = SENTINEL_PTR;
    CHECK_STATUS(bw_pool_submit(email, blocked_task, &g, &extra, &err), BW_REJECTED);
    CHECK_EQ_INT(err.policy, BW_POLICY_THREAD_POOL);
    CHECK_EQ_INT(err.reason, BW_REASON_QUEUE_FULL);
    CHECK(extra == SENTINEL_PTR);

    /* Payments go on. */
    counter c = {PTHREAD_MUTEX_INITIALIZER, 0, ""};
    for (int i = 0; i < 20; i++) {
        bw_task *t = NULL;
        CHECK_STATUS(bw_pool_submit(payments, count_task, &c, &t, &err), BW_OK);
        CHECK_STATUS(bw_task_join(t, UINT64_MAX, NULL, &err), BW_OK);
        bw_task_free(t);
    }
    CHECK_EQ_INT(c.runs, 20);
    CHECK_STR_PREFIX(c.thread_name, "payments-");

    bw_pool_stats m;

    m.size = sizeof m;
    CHECK_STATUS(bw_pool_metrics(email, &m, &err), BW_OK);
    CHECK_EQ_INT(m.busy, 5);
    CHECK_EQ_INT(m.queue_depth, 2);
    CHECK_EQ_U64(m.rejected, 1);

    gate_open(&g);
    for (int i = 0; i < 7; i++) {
        CHECK_STATUS(bw_task_join(stuck[i], UINT64_MAX, NULL, &err), BW_OK);
        bw_task_free(stuck[i]);
    }
    bw_pool_free(email);
    bw_pool_free(payments);
    gate_destroy(&g);
}

TEST(shutdown_gives_every_task_one_outcome) {
    bw_pool *pool = new_pool(JSON("{\"name\": \"reports\", \"workers\": 2, \"queue_capacity\": 5}"));
    gate g;
    gate_init(&g);
    bw_task *tasks[7];
    bw_error err = dirty_error();
    for (int i = 0; i < 7; i++) CHECK_STATUS(bw_pool_submit(pool, blocked_task, &g, &tasks[i], &err), BW_OK);
    gate_wait_entered(&g, 2);

    /* Cancel with a zero wait: the 5 queued tasks are cancelled, 2 workers still busy. */
    bw_shutdown_report r;
    memset(&r, 0xff, sizeof r);
    CHECK_STATUS(bw_pool_shutdown(pool, BW_SHUTDOWN_CANCEL, 0, &r, &err), BW_OK);
    CHECK_EQ_INT(r.mode, BW_SHUTDOWN_CANCEL);
    CHECK(!r.terminated);
    CHECK_EQ_U64(r.cancelled, 5);
    CHECK_EQ_INT(r.still_queued, 0);
    CHECK_EQ_INT(r.busy_workers, 2);

    /* Submissions are refused now. */
    CHECK_STATUS(bw_pool_submit(pool, blocked_task, &g, NULL, &err), BW_SHUTDOWN);
    CHECK_EQ_INT(err.reason, BW_REASON_SHUTDOWN);

    gate_open(&g);
    CHECK_STATUS(bw_pool_shutdown(pool, BW_SHUTDOWN_DRAIN, UINT64_MAX, &r, &err), BW_OK);
    CHECK(r.terminated);
    CHECK_EQ_INT(r.mode, BW_SHUTDOWN_CANCEL); /* a DRAIN does not undo a CANCEL */
    CHECK_EQ_U64(r.cancelled, 0);

    int done = 0, cancelled = 0;
    for (int i = 0; i < 7; i++) {
        bw_status s = bw_task_join(tasks[i], UINT64_MAX, NULL, &err);
        if (s == BW_OK) {
            done++;
        } else if (s == BW_CANCELLED) {
            cancelled++;
            CHECK_EQ_INT(err.reason, BW_REASON_SHUTDOWN);
            CHECK_EQ_INT(err.policy, BW_POLICY_THREAD_POOL);
        }
        /* exactly one outcome: the next join says it was taken */
        CHECK_STATUS(bw_task_join(tasks[i], 0, NULL, NULL), BW_INVALID_ARGUMENT);
        bw_task_free(tasks[i]);
    }
    CHECK_EQ_INT(done, 2);
    CHECK_EQ_INT(cancelled, 5);
    bw_pool_stats m;
    m.size = sizeof m;
    CHECK_STATUS(bw_pool_metrics(pool, &m, &err), BW_OK);
    CHECK_EQ_U64(m.completed, 2);
    CHECK_EQ_U64(m.cancelled, 5);
    CHECK_EQ_U64(m.rejected, 1);
    bw_pool_free(pool);
    gate_destroy(&g);
}

TEST(drain_runs_the_queued_tasks) {
    bw_pool *pool = new_pool(JSON("{\"workers\": 1, \"queue_capacity\": 10}"));
    counter c = {PTHREAD_MUTEX_INITIALIZER, 0, ""};
    for (int i = 0; i < 10; i++) CHECK_STATUS(bw_pool_submit(pool, count_task, &c, NULL, NULL), BW_OK);
    bw_shutdown_report r;
    CHECK_STATUS(bw_pool_shutdown(pool, BW_SHUTDOWN_DRAIN, UINT64_MAX, &r, NULL), BW_OK);
    CHECK(r.terminated);
    CHECK_EQ_INT(r.mode, BW_SHUTDOWN_DRAIN);
    CHECK_EQ_INT(c.runs, 10);
    /* The report is optional. */
    CHECK_STATUS(bw_pool_shutdown(pool, BW_SHUTDOWN_DRAIN, 0, NULL, NULL), BW_OK);
    bw_pool_free(pool);
}

int main(void) {
    RUN(new_json_accepts_a_configuration_and_defaults);
    RUN(new_json_refuses_bad_configurations);
    RUN(new_json_refuses_null_arguments);
    RUN(tasks_run_on_named_workers);
    RUN(submit_and_join_refuse_null_arguments);
    RUN(join_times_out_and_is_cancelled_while_the_task_goes_on);
    RUN(payments_complete_while_email_workers_are_blocked);
    RUN(shutdown_gives_every_task_one_outcome);
    RUN(drain_runs_the_queued_tasks);
    return check_summary();
}
