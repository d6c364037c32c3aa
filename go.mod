module github.com/c650553b/httpcache

go 1.26.8
