// Package bench compares this cache with github.com/gregjones/httpcache on
// one in-process upstream, in one run: a fresh hit, a miss that is
// stored, and a 304 revalidation, each as a ratio to the bare upstream
// round trip measured interleaved with it, and in allocations per
// request. It is a module of its own, so that the library does not
// require what it is compared with.
//
//	cd bench && go test -bench . -benchtime 2s
package bench
