module github.com/c650553b/httpcache/bench

go 1.26

require (
	github.com/c650553b/httpcache v0.1.0
	github.com/gregjones/httpcache v0.0.0-20190611155906-901d90724c79
)

replace github.com/c650553b/httpcache => ../
