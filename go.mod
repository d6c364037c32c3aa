module github.com/c650553b/httpcache

go 1.26

require (
	github.com/dunglas/httpsfv v1.1.2
	github.com/jarcoal/httpmock v1.4.2
	go.uber.org/goleak v1.3.0
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)
