// The header must compile as C++ (cbindgen's cpp_compat: extern "C" around the
// functions) and link from C++.
#include "breakwater.h"

#include <cstdio>
#include <cstring>

int main() {
    bw_error err;
    bw_clock *clock = nullptr;
    uint64_t now = 1;
    if (bw_abi_version() != BW_ABI_VERSION) return 1;
    if (bw_clock_manual_new(&clock, &err) != BW_OK) return 1;
    if (bw_clock_now_ns(clock, &now, &err) != BW_OK || now != 0) return 1;
    bw_clock_free(clock);
    if (bw_clock_now_ns(nullptr, &now, &err) != BW_INVALID_ARGUMENT) return 1;
    if (std::strcmp(err.message, "clock must not be NULL") != 0) return 1;
    std::printf("1 passed, 0 failed\n");
    return 0;
}
