package breakwater

/*
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "breakwater.h"

#cgo nocallback bw_log_level_name
#cgo noescape bw_breaker_describe_transition
#cgo nocallback bw_breaker_describe_transition
#cgo noescape bw_set_log_handler
#cgo nocallback bw_set_log_handler
#cgo noescape bwgo_log_queued
#cgo nocallback bwgo_log_queued
#cgo nocallback bwgo_log_free
#cgo nocallback bwgo_log_data

// The library's log records reach Go through a queue, never through a call into Go: the
// library calls the handler on the thread that caused the event, often inside a C call
// of this package that is marked nocallback (a breaker's record or admit), where a
// C-to-Go callback would crash the program. The handler copies the record into the queue
// and returns at once; a goroutine of the binding waits in bwgo_log_take and hands the
// records to slog, in order.

typedef struct bwgo_log_entry {
	struct bwgo_log_entry *next;
	uint64_t seq;
	int64_t unix_sec, unix_nsec;
	uint32_t level;
	size_t target_len, message_len, fields_len;
	char data[]; // target, message, fields_json, without NULs
} bwgo_log_entry;

enum { BWGO_LOG_CAPACITY = 4096 };

static pthread_mutex_t bwgo_log_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bwgo_log_cv = PTHREAD_COND_INITIALIZER;
static bwgo_log_entry *bwgo_log_head, *bwgo_log_tail;
static size_t bwgo_log_len;
static uint64_t bwgo_log_seq;     // records queued so far (the last one's seq)
static uint64_t bwgo_log_dropped; // records dropped since the last take (queue full)

// Not static: Go passes its address to bw_set_log_handler.
void bwgo_log_handler(const bw_log_record *r, void *user_data) {
	(void)user_data;
	size_t n = r->target_len + r->message_len + r->fields_json_len;
	bwgo_log_entry *e = malloc(sizeof *e + n);
	if (e != NULL) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		e->next = NULL;
		e->unix_sec = (int64_t)ts.tv_sec;
		e->unix_nsec = (int64_t)ts.tv_nsec;
		e->level = r->level;
		e->target_len = r->target_len;
		e->message_len = r->message_len;
		e->fields_len = r->fields_json_len;
		if (r->target_len) memcpy(e->data, r->target, r->target_len);
		if (r->message_len) memcpy(e->data + r->target_len, r->message, r->message_len);
		if (r->fields_json_len)
			memcpy(e->data + r->target_len + r->message_len, r->fields_json, r->fields_json_len);
	}
	pthread_mutex_lock(&bwgo_log_mu);
	if (e == NULL || bwgo_log_len >= BWGO_LOG_CAPACITY) {
		bwgo_log_dropped++;
		pthread_mutex_unlock(&bwgo_log_mu);
		free(e);
		return;
	}
	e->seq = ++bwgo_log_seq;
	if (bwgo_log_tail != NULL) bwgo_log_tail->next = e; else bwgo_log_head = e;
	bwgo_log_tail = e;
	bwgo_log_len++;
	pthread_cond_signal(&bwgo_log_cv);
	pthread_mutex_unlock(&bwgo_log_mu);
}

// Waits for records and takes them all (a list to free with bwgo_log_free), with the
// count of records dropped since the last take.
static bwgo_log_entry *bwgo_log_take(uint64_t *dropped) {
	pthread_mutex_lock(&bwgo_log_mu);
	while (bwgo_log_head == NULL && bwgo_log_dropped == 0)
		pthread_cond_wait(&bwgo_log_cv, &bwgo_log_mu);
	bwgo_log_entry *list = bwgo_log_head;
	bwgo_log_head = bwgo_log_tail = NULL;
	bwgo_log_len = 0;
	*dropped = bwgo_log_dropped;
	bwgo_log_dropped = 0;
	pthread_mutex_unlock(&bwgo_log_mu);
	return list;
}

// The seq of the last record queued.
static uint64_t bwgo_log_queued(void) {
	pthread_mutex_lock(&bwgo_log_mu);
	uint64_t seq = bwgo_log_seq;
	pthread_mutex_unlock(&bwgo_log_mu);
	return seq;
}

static void bwgo_log_free(bwgo_log_entry *e) { free(e); }

// The copied strings of an entry.
static const char *bwgo_log_data(const bwgo_log_entry *e) { return e->data; }
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// slogLevels maps the library's level names (bw_log_level_name) to slog's levels.
var slogLevels = map[string]slog.Level{
	"error": slog.LevelError,
	"warn":  slog.LevelWarn,
	"info":  slog.LevelInfo,
	"debug": slog.LevelDebug,
	"trace": slog.LevelDebug - 4,
}

// logLevelCodes are the library's record levels (BW_LOG_*), the most verbose first.
var logLevelCodes = []uint32{C.BW_LOG_TRACE, C.BW_LOG_DEBUG, C.BW_LOG_INFO, C.BW_LOG_WARN, C.BW_LOG_ERROR}

// slogLevel is the slog level of a record level code, through the library's name for it.
func slogLevel(code uint32) slog.Level {
	if n := C.bw_log_level_name(C.uint32_t(code)); n != nil {
		if l, ok := slogLevels[C.GoString(n)]; ok {
			return l
		}
	}
	return slog.LevelInfo // a level newer than this binding: show it
}

// logState is where records go: the logger set with SetLogger, or slog.Default() at
// delivery time (followDefault: the package's initial setting).
var logState struct {
	mu            sync.Mutex
	cond          *sync.Cond
	logger        *slog.Logger
	followDefault bool
	delivered     uint64 // seq of the last record handed to slog (or dropped)
	started       bool
}

func init() {
	logState.cond = sync.NewCond(&logState.mu)
	setLogger(slog.Default(), true)
}

// SetLogger sends the library's log records to logger: breaker transitions
// (slog.LevelWarn when a breaker opens, slog.LevelInfo otherwise, with the sentence the
// library writes, "breaker authors: closed -> open (3 consecutive failures)"), and
// rejections and retries (slog.LevelDebug). Each record's attributes are the library's
// fields (policy, name, from, to, reason, generation, ...) and its target
// ("breakwater::breaker"). nil turns the records off.
//
// The library writes only the records at the levels logger.Enabled accepts at the time
// of the call: call SetLogger again after changing the handler's level. At start-up the
// package forwards to slog.Default() (as it is when each record is delivered) at the
// levels the default logger enabled at start-up (Info and above unless changed before),
// so a service that uses slog sees the transitions with no code.
//
// Records are handed to the logger by a goroutine of the binding, in the order the
// library wrote them, shortly after the event (FlushLogs waits for them); a record
// may come from any thread, library-owned pool workers included. If the logger falls
// more than 4096 records behind, further records are dropped and counted in one warning.
// A logger that panics loses that record only.
func SetLogger(logger *slog.Logger) {
	setLogger(logger, false)
}

func setLogger(logger *slog.Logger, followDefault bool) {
	level := uint32(C.BW_LOG_OFF)
	if logger != nil {
		ctx := context.Background()
		for _, code := range logLevelCodes {
			if logger.Enabled(ctx, slogLevel(code)) {
				level = code
				break
			}
		}
	}
	logState.mu.Lock()
	defer logState.mu.Unlock()
	logState.logger = logger
	logState.followDefault = followDefault
	if level != C.BW_LOG_OFF && !logState.started {
		logState.started = true
		go drainLogs()
	}
	var handler *[0]byte // NULL turns the records off
	if level != C.BW_LOG_OFF {
		handler = (*[0]byte)(C.bwgo_log_handler)
	}
	var e C.bw_error
	if err := check(C.bw_set_log_handler(handler, C.uint32_t(level), nil, &e), &e); err != nil {
		panic(err) // the level is one of BW_LOG_*: only on a bug in the library
	}
}

// FlushLogs waits until every record the library wrote before the call has been handed
// to the logger (or dropped). Call it before exiting, or in a test before reading what a
// logger captured. It must not be called from the logger's handler.
func FlushLogs() {
	target := uint64(C.bwgo_log_queued())
	logState.mu.Lock()
	defer logState.mu.Unlock()
	for logState.started && logState.delivered < target {
		logState.cond.Wait()
	}
}

// drainLogs hands the queued records to the logger, forever (one goroutine, started by
// the first SetLogger that turns records on; it waits in C while there are none).
func drainLogs() {
	for {
		var dropped C.uint64_t
		list := C.bwgo_log_take(&dropped)
		logState.mu.Lock()
		logger := logState.logger
		if logState.followDefault {
			logger = slog.Default()
		}
		logState.mu.Unlock()
		if dropped != 0 && logger != nil {
			deliver(logger, slog.NewRecord(time.Now(), slog.LevelWarn,
				fmt.Sprintf("breakwater: %d log records dropped (the queue of %d records to the logger was full)",
					uint64(dropped), C.BWGO_LOG_CAPACITY), 0))
		}
		var last uint64
		for e := list; e != nil; {
			if logger != nil {
				deliver(logger, recordOf(e))
			}
			last = uint64(e.seq)
			next := e.next
			C.bwgo_log_free(e)
			e = next
		}
		logState.mu.Lock()
		if last > logState.delivered {
			logState.delivered = last
		}
		logState.cond.Broadcast()
		logState.mu.Unlock()
	}
}

// deliver hands one record to the logger's handler, keeping the goroutine alive if the
// handler panics.
func deliver(logger *slog.Logger, r slog.Record) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "breakwater: the slog handler panicked on a log record: %v\n", p)
		}
	}()
	ctx := context.Background()
	h := logger.Handler()
	if h.Enabled(ctx, r.Level) {
		_ = h.Handle(ctx, r)
	}
}

// recordOf is the slog record of a queued entry: the library's level, sentence and
// time, its target and fields as attributes.
func recordOf(e *C.bwgo_log_entry) slog.Record {
	all := C.GoBytes(unsafe.Pointer(C.bwgo_log_data(e)), C.int(e.target_len+e.message_len+e.fields_len))
	target := string(all[:e.target_len])
	message := string(all[e.target_len : e.target_len+e.message_len])
	fields := all[e.target_len+e.message_len:]
	r := slog.NewRecord(time.Unix(int64(e.unix_sec), int64(e.unix_nsec)), slogLevel(uint32(e.level)), message, 0)
	r.AddAttrs(fieldAttrs(fields)...)
	r.AddAttrs(slog.String("target", target))
	return r
}

// fieldAttrs turns the library's fields (a JSON object of strings, numbers and
// booleans) into attributes, in the library's order. Text that is not such an object
// becomes one "fields" attribute with the text as it is.
func fieldAttrs(text []byte) []slog.Attr {
	if len(bytes.TrimSpace(text)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return []slog.Attr{slog.String("fields", string(text))}
	}
	var attrs []slog.Attr
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return []slog.Attr{slog.String("fields", string(text))}
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return []slog.Attr{slog.String("fields", string(text))}
		}
		attrs = append(attrs, attrOf(key, v))
	}
	return attrs
}

func attrOf(key string, v any) slog.Attr {
	switch v := v.(type) {
	case string:
		return slog.String(key, v)
	case bool:
		return slog.Bool(key, v)
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return slog.Int64(key, i)
		}
		if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			return slog.Uint64(key, u)
		}
		if f, err := v.Float64(); err == nil {
			return slog.Float64(key, f)
		}
		return slog.String(key, string(v))
	default:
		return slog.Any(key, v)
	}
}

// Describe returns the sentence the library writes for the transition t of this
// breaker, the message of its log record: "breaker authors: closed -> open (3
// consecutive failures)". It lets a WithOnStateChange function (or a PollEvents loop)
// log what SetLogger's records say. An error matching ErrInvalidArgument for a
// transition whose states or reason the library does not know.
func (b *CircuitBreaker) Describe(t Transition) (string, error) {
	reason, ok := transitionReasonCode(t.Reason)
	if !ok {
		return "", &Error{Status: StatusInvalidArgument, Policy: PolicyCircuitBreaker,
			Message: fmt.Sprintf("unknown transition reason %q", t.Reason)}
	}
	ev := C.bw_breaker_event{from: C.uint32_t(t.From), to: C.uint32_t(t.To), reason: C.uint32_t(reason),
		generation: C.uint64_t(t.Generation), at_ns: C.uint64_t(max(t.At, 0))}
	ptr := b.h.acquire()
	defer b.h.release()
	buf := make([]C.char, 256)
	for {
		var e C.bw_error
		var n C.size_t
		s := C.bw_breaker_describe_transition(ptr, &ev, &buf[0], C.size_t(len(buf)), &n, &e)
		if s == C.BW_BUFFER_TOO_SMALL {
			buf = make([]C.char, int(n)+1)
			continue
		}
		if err := check(s, &e); err != nil {
			return "", err
		}
		return C.GoStringN(&buf[0], C.int(n)), nil
	}
}

// transitionReasonCode is the code (BW_TRANSITION_*) the library names name.
func transitionReasonCode(name string) (uint32, bool) {
	for code := uint32(0); code < 256; code++ {
		if n := C.bw_transition_reason_name(C.uint32_t(code)); n != nil && C.GoString(n) == name {
			return code, true
		}
	}
	return 0, false
}
