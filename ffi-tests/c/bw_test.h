/*
 * bw_test.h: breakwater-specific helpers on top of check.h for the C test programs.
 */
#ifndef BW_TEST_H
#define BW_TEST_H

#include "breakwater.h"
#include "check.h"

/* `expr` returns status `expected`; on a mismatch both names are printed. */
#define CHECK_STATUS(expr, expected)                                                  \
    do {                                                                              \
        bw_status check_s_ = (expr), check_e_ = (expected);                           \
        check_count++;                                                                \
        if (check_s_ != check_e_)                                                     \
            check_fail(__FILE__, __LINE__, "%s returned %s, expected %s", #expr,      \
                       bw_status_name(check_s_), bw_status_name(check_e_));           \
    } while (0)

/* An error object filled with garbage, to see that a call writes it. */
static bw_error dirty_error(void) {
    bw_error e;
    memset(&e, 0x5a, sizeof e);
    return e;
}

/* The thread's last error message (static buffer; fine for tests). */
static const char *last_error(void) {
    static char buf[1024];
    size_t len = 0;
    if (bw_last_error_message(buf, sizeof buf, &len) != BW_OK) return "(error)";
    return buf;
}

/* A pointer value that no call may write over an out-parameter on failure. */
#define SENTINEL_PTR ((void *)(uintptr_t)0xdeadbeef)

#endif /* BW_TEST_H */
