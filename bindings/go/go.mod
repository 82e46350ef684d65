module github.com/breakwater-rs/breakwater/bindings/go

go 1.24
