module github.com/breakwater-rs/breakwater/benches/redis/go

go 1.24

require (
	github.com/breakwater-rs/breakwater/bindings/go v0.0.0
	github.com/redis/go-redis/v9 v9.17.3
	github.com/sony/gobreaker/v2 v2.4.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
)

replace github.com/breakwater-rs/breakwater/bindings/go => ../../../bindings/go
