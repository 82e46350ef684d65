package gotests

// A thread that Go never saw writes a log record: for observability_test.go (cgo cannot
// be used in a _test.go file).

/*
#cgo pkg-config: breakwater-static
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "breakwater.h"

// On its own thread: builds the breaker named name and forces it open (a WARN record).
static void *obs_force_open(void *name) {
	char json[128];
	strcpy(json, "{\"name\": \"");
	strncat(json, (const char *)name, 64);
	strcat(json, "\"}");
	bw_breaker *b = NULL;
	if (bw_breaker_new_json(json, strlen(json), NULL, &b, NULL) != BW_OK) return (void *)1;
	bw_status s = bw_breaker_force_open(b, NULL);
	bw_breaker_free(b);
	return s == BW_OK ? NULL : (void *)1;
}

// Runs obs_force_open on a new thread and joins it: 0 when it went well.
static int obs_force_open_on_c_thread(const char *name) {
	pthread_t t;
	if (pthread_create(&t, NULL, obs_force_open, (void *)name) != 0) return -1;
	void *result = NULL;
	if (pthread_join(t, &result) != 0) return -1;
	return result == NULL ? 0 : 1;
}
*/
import "C"

import "unsafe"

// forceOpenOnCThread builds a breaker named name on a C thread and forces it open there.
func forceOpenOnCThread(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.obs_force_open_on_c_thread(cname) == 0
}
