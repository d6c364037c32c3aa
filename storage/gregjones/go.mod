module github.com/c650553b/httpcache/storage/gregjones

go 1.26

require (
	github.com/c650553b/httpcache v0.1.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/google/btree v1.1.3 // indirect
	github.com/gregjones/httpcache v0.0.0-20190611155906-901d90724c79
	github.com/peterbourgon/diskv v2.0.1+incompatible // indirect
)

replace github.com/c650553b/httpcache => ../..
