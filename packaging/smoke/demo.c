/* Smoke test of the installed C package: built with pkg-config only, from a temporary
 * folder (scripts/suites/packaging.sh). A breaker with the library's defaults fails
 * calls until it opens; the next call must be rejected. */
#include <breakwater.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    printf("breakwater %s (ABI %u)\n", bw_version(), bw_abi_version());
    if (bw_abi_version() != BW_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch\n");
        return 1;
    }
    const char *json = "{\"name\":\"authors\"}";
    bw_error err;
    bw_breaker *breaker = NULL;
    if (bw_breaker_new_json(json, strlen(json), NULL, &breaker, &err) != BW_OK) {
        fprintf(stderr, "bw_breaker_new_json: %s\n", err.message);
        return 1;
    }
    bw_status status = BW_OK;
    int failures = 0;
    for (; failures < 1000; failures++) {
        bw_permit permit;
        status = bw_breaker_try_acquire(breaker, &permit, &err);
        if (status != BW_OK) break;
        bw_breaker_record(breaker, permit, BW_OUTCOME_FAILURE, &err);
    }
    printf("after %d failures: %s (%s)\n", failures, bw_status_name(status), err.message);
    bw_breaker_free(breaker);
    return status == BW_REJECTED ? 0 : 1;
}
