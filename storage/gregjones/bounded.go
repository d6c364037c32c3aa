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
// most maxStuckOperations may be left at once: past that, operations fail
// at once with ErrBackendStuck, which the Transport counts and logs as a
// storage error, and the request goes to the network, until a left
// operation ends.

// maxStuckOperations bounds the operations still running after their
// callers stopped waiting.
const maxStuckOperations = 64

// ErrBackendStuck is returned, at once, while maxStuckOperations
// operations have outlived their callers' contexts and the backend has
// not answered them.
var ErrBackendStuck = errors.New("gregjones: the backend has not answered operations whose callers stopped waiting; no other is started until one ends")

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
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.stuck.Load() >= maxStuckOperations {
		return ErrBackendStuck
	}
	var state atomic.Int32
	done := make(chan error, 1)
	go func() {
		err := op()
		if !state.CompareAndSwap(operationRunning, operationEnded) {
			s.stuck.Add(-1) // left by its caller: it no longer counts
			return
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if state.CompareAndSwap(operationRunning, operationLeft) {
			s.stuck.Add(1)
			return ctx.Err()
		}
		return <-done // it ended as the context did
	}
}
