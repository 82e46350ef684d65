module github.com/breakwater-rs/breakwater/examples/go

go 1.24

require github.com/breakwater-rs/breakwater/bindings/go v0.0.0

replace github.com/breakwater-rs/breakwater/bindings/go => ../../bindings/go
