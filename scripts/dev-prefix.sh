# Sourced by the suites that link the C library the way users do (Go through pkg-config,
# C programs through pkg-config): builds the library and installs it into
# target/prefix with `make install` (with the Makefile's FEATURES, `redis` by default, as
# shipped), then points pkg-config there.
# After sourcing: BW_PREFIX is the prefix, PKG_CONFIG_PATH finds breakwater(.pc) and
# breakwater-static(.pc).
BW_PREFIX="$PWD/target/prefix"
make --no-print-directory -s install PREFIX="$BW_PREFIX" >/dev/null
export PKG_CONFIG_PATH="$BW_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
