module github.com/breakwater-rs/breakwater/benches/bindings/go

go 1.24

require github.com/breakwater-rs/breakwater/bindings/go v0.0.0

require github.com/sony/gobreaker/v2 v2.4.0

replace github.com/breakwater-rs/breakwater/bindings/go => ../../../bindings/go
