package httpcache

// Hooks for the tests: names the external test package (httpcache_test)
// needs, and views of the Transport's internals that take its locks, so that
// no test reaches into them.

// FakeStorage is fakeStorage, for the external test package.
type FakeStorage = fakeStorage

// NewFakeStorage returns a new fakeStorage (see newFakeStorage).
func NewFakeStorage() *FakeStorage { return newFakeStorage() }

// Calls returns how many calls of Get, Set and Delete have returned.
func (s *fakeStorage) Calls() (gets, sets, deletes int64) {
	return s.gets.Load(), s.sets.Load(), s.deletes.Load()
}
