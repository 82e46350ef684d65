#define _POSIX_C_SOURCE 200809L
/*
 * The C runner of the behaviour scenarios (the JSON files of ffi-tests/scenarios, format in
 * README.md): builds each policy with bw_<policy>_new_json on a manual clock and runs the
 * steps through the C ABI. Prints one line per scenario and "N passed, N failed"; exits 1
 * when a scenario failed.
 *
 * Usage: run_scenarios DIR
 *
 * The JSON reader below is a small one written for these files: it keeps each value's
 * source text, so that a scenario's "config" goes to the library exactly as written.
 */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breakwater.h"

/* ---- a tiny JSON reader ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
    jtype type;
    double num;
    bool boolean;
    char *str;           /* J_STR: decoded text (escapes \" \\ \/ \n \t only) */
    const char *src;     /* the value's source text */
    size_t src_len;
    size_t n;            /* J_ARR, J_OBJ: number of items */
    char **keys;         /* J_OBJ */
    struct jval **items; /* J_ARR, J_OBJ */
} jval;

typedef struct {
    const char *p;
    const char *err;
} jparser;

static void skip_ws(jparser *j) {
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t') j->p++;
}

static void jfree(jval *v) {
    if (!v) return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys) free(v->keys[i]);
        jfree(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v);
}

static char *parse_string(jparser *j) {
    const char *s = ++j->p; /* after the opening quote */
    size_t len = 0;
    char *out = malloc(strlen(s) + 1);
    if (!out) return NULL;
    while (*j->p && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            c = *j->p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case '"': case '\\': case '/': break;
            default: j->err = "unsupported escape"; free(out); return NULL;
            }
        }
        out[len++] = c;
    }
    if (*j->p != '"') {
        j->err = "unterminated string";
        free(out);
        return NULL;
    }
    j->p++;
    out[len] = '\0';
    return out;
}

static jval *parse_value(jparser *j);

static bool push(jval *v, char *key, jval *item) {
    char **keys = v->type == J_OBJ ? realloc(v->keys, (v->n + 1) * sizeof *keys) : NULL;
    if (v->type == J_OBJ) {
        if (!keys) return false;
        v->keys = keys;
        v->keys[v->n] = key;
    }
    jval **items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (!items) return false;
    v->items = items;
    v->items[v->n++] = item;
    return true;
}

static jval *parse_container(jparser *j, jval *v, char close) {
    j->p++;
    skip_ws(j);
    if (*j->p == close) {
        j->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(j);
        if (v->type == J_OBJ) {
            if (*j->p != '"' || !(key = parse_string(j))) {
                j->err = j->err ? j->err : "expected a key";
                return NULL;
            }
            skip_ws(j);
            if (*j->p++ != ':') {
                free(key);
                j->err = "expected ':'";
                return NULL;
            }
        }
        jval *item = parse_value(j);
        if (!item || !push(v, key, item)) {
            free(key);
            jfree(item);
            j->err = j->err ? j->err : "out of memory";
            return NULL;
        }
        skip_ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p++ == close) return v;
        j->err = "expected ',' or a closing bracket";
        return NULL;
    }
}

static jval *parse_value(jparser *j) {
    skip_ws(j);
    jval *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->src = j->p;
    bool ok = true;
    if (*j->p == '{' || *j->p == '[') {
        v->type = *j->p == '{' ? J_OBJ : J_ARR;
        ok = parse_container(j, v, *j->p == '{' ? '}' : ']') != NULL;
    } else if (*j->p == '"') {
        v->type = J_STR;
        ok = (v->str = parse_string(j)) != NULL;
    } else if (strncmp(j->p, "null", 4) == 0) {
        v->type = J_NULL;
        j->p += 4;
    } else if (strncmp(j->p, "true", 4) == 0 || strncmp(j->p, "false", 5) == 0) {
        v->type = J_BOOL;
        v->boolean = *j->p == 't';
        j->p += v->boolean ? 4 : 5;
    } else {
        char *end;
        v->type = J_NUM;
        v->num = strtod(j->p, &end);
        ok = end != j->p;
        if (!ok) j->err = "unexpected character";
        j->p = end;
    }
    if (!ok) {
        jfree(v);
        return NULL;
    }
    v->src_len = (size_t)(j->p - v->src);
    return v;
}

static const jval *get(const jval *obj, const char *key) {
    if (!obj || obj->type != J_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return obj->items[i];
    return NULL;
}

static const char *get_str(const jval *obj, const char *key, const char *dflt) {
    const jval *v = get(obj, key);
    return v && v->type == J_STR ? v->str : dflt;
}

static double get_num(const jval *obj, const char *key, double dflt) {
    const jval *v = get(obj, key);
    return v && v->type == J_NUM ? v->num : dflt;
}

/* ---- the runner ---- */

static uint64_t ns_of_ms(double ms) { return (uint64_t)llround(ms * 1e6); }

/* The result of one step: an empty `what` is a pass. */
typedef struct {
    char what[512];
} verdict;

static bool fail(verdict *v, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->what, sizeof v->what, fmt, ap);
    va_end(ap);
    return false;
}

static const char *name_or(const char *name) { return name ? name : "(unknown)"; }

/* Compares an expected admission or rejection with a status and its error. */
static bool check_admission(const jval *step, bw_status s, const bw_error *e, verdict *v) {
    const char *want = get_str(step, "reject", NULL);
    if (!want) {
        if (s == BW_OK) return true;
        return fail(v, "expected admitted, got %s (%s)", name_or(bw_status_name(s)), e->message);
    }
    if (s != BW_REJECTED)
        return fail(v, "expected rejected (%s), got %s", want, name_or(bw_status_name(s)));
    const char *reason = name_or(bw_reason_name(e->reason));
    if (strcmp(reason, want) != 0)
        return fail(v, "expected rejection reason \"%s\", got \"%s\"", want, reason);
    const jval *ra = get(step, "retry_after_ms");
    if (ra && ra->type == J_NUM) {
        if (!e->has_retry_after)
            return fail(v, "expected retry_after_ms %g, got none", ra->num);
        if (e->retry_after_ns != ns_of_ms(ra->num))
            return fail(v, "expected retry_after_ms %g, got %llu ns", ra->num,
                        (unsigned long long)e->retry_after_ns);
    }
    return true;
}

/* A metric by name: `is_rate` for the breaker's rates (negative: none). */
typedef struct {
    const char *name;
    bool is_rate;
    uint64_t count;
    double rate;
} metric;

static bool compare_metrics(const jval *step, const metric *m, size_t n, verdict *v) {
    const jval *want = get(step, "metrics");
    if (!want || want->type != J_OBJ) return fail(v, "expect_metrics has no \"metrics\" object");
    for (size_t i = 0; i < want->n; i++) {
        const char *key = want->keys[i];
        const jval *w = want->items[i];
        size_t k = 0;
        while (k < n && strcmp(m[k].name, key) != 0) k++;
        if (k == n) return fail(v, "unknown metric \"%s\"", key);
        if (m[k].is_rate) {
            bool none = m[k].rate < 0;
            bool ok = w->type == J_NULL ? none : (w->type == J_NUM && !none && fabs(w->num - m[k].rate) < 1e-9);
            if (!ok) {
                if (none) return fail(v, "metric %s: expected %.*s, got none", key, (int)w->src_len, w->src);
                return fail(v, "metric %s: expected %.*s, got %g", key, (int)w->src_len, w->src, m[k].rate);
            }
        } else if (w->type != J_NUM || (uint64_t)w->num != m[k].count) {
            return fail(v, "metric %s: expected %.*s, got %llu", key, (int)w->src_len, w->src,
                        (unsigned long long)m[k].count);
        }
    }
    return true;
}

#define COUNT(s, f) {#f, false, (s).f, 0}

static bool breaker_metrics(const bw_breaker *b, const jval *step, verdict *v) {
    bw_breaker_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    bw_error e;
    if (bw_breaker_metrics(b, &s, &e) != BW_OK) return fail(v, "bw_breaker_metrics: %s", e.message);
    metric m[] = {
        COUNT(s, generation), COUNT(s, requests), COUNT(s, successes), COUNT(s, failures),
        COUNT(s, ignored), COUNT(s, slow), COUNT(s, consecutive_successes),
        COUNT(s, consecutive_failures), COUNT(s, window_calls), COUNT(s, window_failures),
        {"failure_rate", true, 0, s.failure_rate}, {"slow_call_rate", true, 0, s.slow_call_rate},
        COUNT(s, total_requests), COUNT(s, total_successes), COUNT(s, total_failures),
        COUNT(s, total_ignored), COUNT(s, total_slow), COUNT(s, rejected_open),
        COUNT(s, rejected_trial_full), COUNT(s, rejected_forced_open), COUNT(s, stale_dropped),
        COUNT(s, transitions), COUNT(s, opened),
    };
    return compare_metrics(step, m, sizeof m / sizeof m[0], v);
}

#define MAX_PERMITS 32

typedef struct {
    bw_clock *clock;
    bw_breaker *breaker;
    char *names[MAX_PERMITS];
    bw_permit permits[MAX_PERMITS];
    size_t n;
} breaker_run;

static bool outcome_of(const jval *step, uint32_t *out, verdict *v) {
    const char *o = get_str(step, "outcome", "");
    if (strcmp(o, "success") == 0) *out = BW_OUTCOME_SUCCESS;
    else if (strcmp(o, "failure") == 0) *out = BW_OUTCOME_FAILURE;
    else if (strcmp(o, "ignored") == 0) *out = BW_OUTCOME_IGNORED;
    else return fail(v, "unknown outcome \"%s\"", o);
    return true;
}

static bool advance(bw_clock *clock, const jval *step, verdict *v) {
    bw_error e;
    if (bw_clock_advance_ns(clock, ns_of_ms(get_num(step, "ms", 0)), &e) != BW_OK)
        return fail(v, "bw_clock_advance_ns: %s", e.message);
    return true;
}

static bool breaker_step(breaker_run *r, const jval *step, verdict *v) {
    const char *op = get_str(step, "op", "");
    bw_error e;
    if (strcmp(op, "acquire") == 0) {
        bw_permit p;
        bw_status s = bw_breaker_try_acquire(r->breaker, &p, &e);
        if (!check_admission(step, s, &e, v)) return false;
        const char *name = get_str(step, "permit", NULL);
        if (s == BW_OK && name) {
            if (r->n == MAX_PERMITS) return fail(v, "too many permits");
            r->names[r->n] = strdup(name);
            r->permits[r->n++] = p;
        }
        return true;
    }
    if (strcmp(op, "record") == 0) {
        const char *name = get_str(step, "permit", "");
        size_t i = 0;
        while (i < r->n && strcmp(r->names[i], name) != 0) i++;
        if (i == r->n) return fail(v, "no permit named \"%s\"", name);
        uint32_t outcome;
        if (!outcome_of(step, &outcome, v)) return false;
        bw_status s = bw_breaker_record(r->breaker, r->permits[i], outcome, &e);
        free(r->names[i]);
        r->names[i] = r->names[--r->n];
        r->permits[i] = r->permits[r->n];
        const char *want = get_str(step, "expect", "recorded");
        const char *got = s == BW_OK ? "recorded" : s == BW_STALE ? "stale" : name_or(bw_status_name(s));
        if (strcmp(got, want) != 0) return fail(v, "expected %s, got %s", want, got);
        return true;
    }
    if (strcmp(op, "call") == 0) {
        uint32_t outcome;
        if (!outcome_of(step, &outcome, v)) return false;
        unsigned times = (unsigned)get_num(step, "times", 1);
        for (unsigned i = 1; i <= times; i++) {
            bw_permit p;
            bw_status s = bw_breaker_try_acquire(r->breaker, &p, &e);
            if (s != BW_OK)
                return fail(v, "call %u of %u: expected admitted, got %s (%s)", i, times,
                            name_or(bw_status_name(s)), name_or(bw_reason_name(e.reason)));
            s = bw_breaker_record(r->breaker, p, outcome, &e);
            if (s != BW_OK)
                return fail(v, "call %u of %u: expected recorded, got %s", i, times,
                            name_or(bw_status_name(s)));
        }
        return true;
    }
    if (strcmp(op, "advance") == 0) return advance(r->clock, step, v);
    bw_status (*manual)(const bw_breaker *, bw_error *) =
        strcmp(op, "reset") == 0        ? bw_breaker_reset
        : strcmp(op, "force_open") == 0 ? bw_breaker_force_open
        : strcmp(op, "disable") == 0    ? bw_breaker_disable
                                        : NULL;
    if (manual) {
        if (manual(r->breaker, &e) != BW_OK) return fail(v, "%s: %s", op, e.message);
        return true;
    }
    if (strcmp(op, "expect_state") == 0) {
        uint32_t state;
        if (bw_breaker_state(r->breaker, &state, &e) != BW_OK)
            return fail(v, "bw_breaker_state: %s", e.message);
        const char *want = get_str(step, "state", "");
        const char *got = name_or(bw_state_name(state));
        if (strcmp(got, want) != 0) return fail(v, "expected state \"%s\", got \"%s\"", want, got);
        return true;
    }
    if (strcmp(op, "expect_metrics") == 0) return breaker_metrics(r->breaker, step, v);
    return fail(v, "unknown breaker op \"%s\"", op);
}

static bool retry_step(const bw_retry *retry, const jval *step, verdict *v) {
    const char *op = get_str(step, "op", "");
    if (strcmp(op, "delays") != 0) return fail(v, "unknown retry op \"%s\"", op);
    const jval *want = get(step, "ms");
    if (!want || want->type != J_ARR) return fail(v, "delays has no \"ms\" array");
    uint64_t got[64];
    size_t n = 0;
    bw_error e;
    if (bw_retry_delays_ns(retry, got, 64, &n, &e) != BW_OK)
        return fail(v, "bw_retry_delays_ns: %s", e.message);
    bool same = n == want->n;
    for (size_t i = 0; same && i < n; i++) same = got[i] == ns_of_ms(want->items[i]->num);
    if (same) return true;
    char text[256] = "";
    for (size_t i = 0; i < n && strlen(text) < 200; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%llu", i ? ", " : "",
                 (unsigned long long)got[i]);
    return fail(v, "expected delays %.*s ms, got [%s] ns", (int)want->src_len, want->src, text);
}

static bool bulkhead_step(const bw_bulkhead *b, bw_clock *clock, const jval *step, verdict *v) {
    const char *op = get_str(step, "op", "");
    bw_error e;
    if (strcmp(op, "try_acquire") == 0)
        return check_admission(step, bw_bulkhead_try_acquire(b, &e), &e, v);
    if (strcmp(op, "release") == 0) {
        const char *want = get_str(step, "expect", "released");
        const char *got = bw_bulkhead_release(b, &e) == BW_OK ? "released" : "refused";
        if (strcmp(got, want) != 0) return fail(v, "expected %s, got %s", want, got);
        return true;
    }
    if (strcmp(op, "advance") == 0) return advance(clock, step, v);
    if (strcmp(op, "expect_metrics") == 0) {
        bw_bulkhead_stats s;
        memset(&s, 0, sizeof s);
        s.size = sizeof s;
        if (bw_bulkhead_metrics(b, &s, &e) != BW_OK)
            return fail(v, "bw_bulkhead_metrics: %s", e.message);
        metric m[] = {COUNT(s, max),      COUNT(s, available), COUNT(s, in_use), COUNT(s, waiting),
                      COUNT(s, rejected), COUNT(s, peak),      COUNT(s, acquired)};
        return compare_metrics(step, m, sizeof m / sizeof m[0], v);
    }
    return fail(v, "unknown bulkhead op \"%s\"", op);
}

static bool limiter_step(const bw_limiter *l, bw_clock *clock, const jval *step, verdict *v) {
    const char *op = get_str(step, "op", "");
    bw_error e;
    if (strcmp(op, "try_acquire") == 0) {
        uint32_t n = (uint32_t)get_num(step, "n", 1);
        return check_admission(step, bw_limiter_try_acquire(l, n, NULL, &e), &e, v);
    }
    if (strcmp(op, "advance") == 0) return advance(clock, step, v);
    if (strcmp(op, "expect_metrics") == 0) {
        bw_limiter_stats s;
        memset(&s, 0, sizeof s);
        s.size = sizeof s;
        if (bw_limiter_metrics(l, &s, &e) != BW_OK)
            return fail(v, "bw_limiter_metrics: %s", e.message);
        metric m[] = {COUNT(s, permitted), COUNT(s, rejected), COUNT(s, waited),
                      COUNT(s, available), COUNT(s, burst)};
        return compare_metrics(step, m, sizeof m / sizeof m[0], v);
    }
    return fail(v, "unknown limiter op \"%s\"", op);
}

/* Runs one scenario; on failure writes the failing step's index to *at. */
static bool run(const jval *sc, size_t *at, verdict *v) {
    const char *policy = get_str(sc, "policy", "");
    const jval *config = get(sc, "config");
    const jval *steps = get(sc, "steps");
    const char *json = config ? config->src : "";
    size_t json_len = config ? config->src_len : 0;
    *at = 0;
    if (!steps || steps->type != J_ARR) return fail(v, "no \"steps\" array");
    bw_error e;
    bw_clock *clock = NULL;
    if (bw_clock_manual_new(&clock, &e) != BW_OK) return fail(v, "bw_clock_manual_new: %s", e.message);
    bool ok = true;
    if (strcmp(policy, "breaker") == 0) {
        breaker_run r;
        memset(&r, 0, sizeof r);
        r.clock = clock;
        if (bw_breaker_new_json(json, json_len, clock, &r.breaker, &e) != BW_OK) {
            ok = fail(v, "configuration refused: %s", e.message);
        }
        for (size_t i = 0; ok && i < steps->n; i++) ok = breaker_step(&r, steps->items[i], v) || ((*at = i), false);
        for (size_t i = 0; i < r.n; i++) free(r.names[i]);
        bw_breaker_free(r.breaker);
    } else if (strcmp(policy, "retry") == 0) {
        bw_retry *retry = NULL;
        if (bw_retry_new_json(json, json_len, clock, &retry, &e) != BW_OK)
            ok = fail(v, "configuration refused: %s", e.message);
        for (size_t i = 0; ok && i < steps->n; i++) ok = retry_step(retry, steps->items[i], v) || ((*at = i), false);
        bw_retry_free(retry);
    } else if (strcmp(policy, "bulkhead") == 0) {
        bw_bulkhead *b = NULL;
        if (bw_bulkhead_new_json(json, json_len, clock, &b, &e) != BW_OK)
            ok = fail(v, "configuration refused: %s", e.message);
        for (size_t i = 0; ok && i < steps->n; i++) ok = bulkhead_step(b, clock, steps->items[i], v) || ((*at = i), false);
        bw_bulkhead_free(b);
    } else if (strcmp(policy, "limiter") == 0) {
        bw_limiter *l = NULL;
        if (bw_limiter_new_json(json, json_len, clock, &l, &e) != BW_OK)
            ok = fail(v, "configuration refused: %s", e.message);
        for (size_t i = 0; ok && i < steps->n; i++) ok = limiter_step(l, clock, steps->items[i], v) || ((*at = i), false);
        bw_limiter_free(l);
    } else {
        ok = fail(v, "unknown policy \"%s\"", policy);
    }
    bw_clock_free(clock);
    return ok;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    char chunk[4096];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *bigger = realloc(buf, cap);
            if (!bigger) break;
            buf = bigger;
        }
        memcpy(buf + len, chunk, got);
        len += got;
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (the directory of the scenario files)\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        fprintf(stderr, "error: cannot open %s\n", argv[1]);
        return 2;
    }
    char *files[256];
    size_t nfiles = 0;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL && nfiles < 256) {
        size_t len = strlen(d->d_name);
        if (len > 5 && strcmp(d->d_name + len - 5, ".json") == 0) files[nfiles++] = strdup(d->d_name);
    }
    closedir(dir);
    qsort(files, nfiles, sizeof files[0], by_name);

    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < nfiles; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], files[i]);
        char *text = read_file(path);
        jparser j = {text ? text : "", NULL};
        jval *sc = text ? parse_value(&j) : NULL;
        verdict v = {""};
        size_t at = 0;
        if (!sc) {
            failed++;
            printf("FAIL %s: not JSON (%s)\n", files[i], j.err ? j.err : "unreadable");
        } else if (run(sc, &at, &v)) {
            passed++;
            printf("ok   %s\n", get_str(sc, "name", files[i]));
        } else {
            failed++;
            printf("FAIL %s: step %zu: %s\n", get_str(sc, "name", files[i]), at, v.what);
        }
        jfree(sc);
        free(text);
        free(files[i]);
    }
    printf("%u passed, %u failed\n", passed, failed);
    if (passed + failed < 15) {
        printf("error: expected the scenario set in %s, found %u files\n", argv[1], passed + failed);
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
