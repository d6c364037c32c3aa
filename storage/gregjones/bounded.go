package gregjones

import (
	"context"
	"errors"
	"sync/atomic"
)

// A gregjones/httpcache backend takes no context: one on a Redis or
// memcache server that accepts connections and stops answering blocks its
// caller for as long as the server is silent. The Transport bounds each
// storage call by its storage timeout (httpcache.WithStorageTimeout),
// passed as the context's deadline, so the Storage runs each operation on
// a goroutine of its own and returns when the context ends, leaving the
// operation to finish, or not, on its own.
//
// An operation left so holds a goroutine until the backend answers. At
// most maxRunningOperations run on goroutines at once, left or not, so
// that a burst of callers on a backend that has just stopped answering
// leaves a bounded number behind: a caller past the bound waits for a
// running operation to end, within its context. Once maxLeftOperations
// have been left by their callers, operations fail at once with
// ErrBackendStuck, which the Transport counts and logs as a storage
// error, and the request goes to the network, until a left operation
// ends.

// maxRunningOperations bounds the operations running on goroutines of
// their own, among them those still running after their callers stopped
// waiting: at most this many goroutines (a few KiB each) wait on a silent
// backend. A backend that answers in 20ms serves 50,000 operations a
// second within it.
const maxRunningOperations = 1024

// maxLeftOperations is how many operations left running by their callers
// say the backend is stuck.
const maxLeftOperations = 64

// ErrBackendStuck is returned, at once, while maxLeftOperations
// operations have outlived their callers' contexts and the backend has
// not answered them.
var ErrBackendStuck = errors.New("gregjones: the backend has not answered operations whose callers stopped waiting; no other is started until one ends")

// operations bounds the operations a Storage runs on goroutines.
type operations struct {
	// running holds a token for each operation on a goroutine, until the
	// operation ends, whether its caller waited for it or not.
	running chan struct{}
	// left counts the running operations whose callers stopped waiting.
	left atomic.Int64
}

func newOperations() operations {
	return operations{running: make(chan struct{}, maxRunningOperations)}
}

// Operation states, for the race between an operation ending and its
// caller leaving it.
const (
	operationRunning int32 = iota
	operationEnded
	operationLeft
)

// bounded runs op, one operation on the backend, and returns its error,
// or ctx's once ctx ends before op does. A context that cannot end runs
// op on the caller's goroutine.
func (s *Storage) bounded(ctx context.Context, op func() error) error {
	if ctx.Done() == nil {
		return op()
	}
	if err := s.ops.start(ctx); err != nil {
		return err
	}
	var state atomic.Int32
	done := make(chan error, 1)
	go func() {
		err := op()
		left := !state.CompareAndSwap(operationRunning, operationEnded)
		s.ops.end(left)
		if !left {
			done <- err
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if state.CompareAndSwap(operationRunning, operationLeft) {
			s.ops.left.Add(1)
			return ctx.Err()
		}
		return <-done // it ended as the context did
	}
}

// start takes a running operation's token, waiting within ctx while
// every token is taken, or fails at once when maxLeftOperations running
// operations have been left by their callers: the backend is stuck.
func (o *operations) start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.left.Load() >= maxLeftOperations {
		return ErrBackendStuck
	}
	select {
	case o.running <- struct{}{}:
		return nil
	default:
	}
	select {
	case o.running <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end returns an ended operation's token; left says its caller had
// stopped waiting for it.
func (o *operations) end(left bool) {
	if left {
		o.left.Add(-1)
	}
	<-o.running
}
