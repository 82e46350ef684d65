package gotests

import (
	"context"
	"runtime"
	"testing"

	bw "github.com/breakwater-rs/breakwater/bindings/go"
)

func TestCancelTokenCancelsOnceAndForAll(t *testing.T) {
	tok := bw.NewCancelToken()
	defer tok.Close()
	if tok.Cancelled() {
		t.Fatal("starts cancelled")
	}
	tok.Cancel()
	tok.Cancel()
	if !tok.Cancelled() {
		t.Fatal("not cancelled")
	}
}

func TestCancelOnDoneFollowsTheContext(t *testing.T) {
	tok := bw.NewCancelToken()
	defer tok.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stop := tok.CancelOnDone(ctx)
	defer stop()
	if tok.Cancelled() {
		t.Fatal("cancelled early")
	}
	cancel()
	// context.AfterFunc runs on its own goroutine: wait for it to have run.
	for !tok.Cancelled() {
		runtime.Gosched()
	}
	if stop() {
		t.Fatal("stop after the function ran must report false")
	}
}

func TestCancelOnDoneCanBeStopped(t *testing.T) {
	tok := bw.NewCancelToken()
	defer tok.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stop := tok.CancelOnDone(ctx)
	if !stop() {
		t.Fatal("stop before the context is done must report true")
	}
	cancel()
	if tok.Cancelled() {
		t.Fatal("cancelled after stop")
	}
}

func TestCancelOnDoneLeavesAClosedTokenAlone(t *testing.T) {
	tok := bw.NewCancelToken()
	ctx, cancel := context.WithCancel(context.Background())
	tok.CancelOnDone(ctx)
	_ = tok.Close()
	cancel() // must not panic on the AfterFunc goroutine
	mustPanic(t, "breakwater: CancelToken used after Close", func() { tok.Cancel() })
}
