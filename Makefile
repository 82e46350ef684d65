# Builds and installs the breakwater C library the way C packages install:
#
#   make                              # cargo build --release --features redis (shared + static library)
#   make install PREFIX=$HOME/.local  # header, libbreakwater.so/.a, pkg-config, CMake files
#   cc demo.c $(pkg-config --cflags --libs breakwater)
#
# Variables: PREFIX (/usr/local), LIBDIR ($(PREFIX)/lib), INCLUDEDIR ($(PREFIX)/include),
# DESTDIR (staging root for packagers), CARGO (cargo), CARGO_TARGET_DIR (target),
# FEATURES (redis: the shipped library has the shared breaker and rate limiter; the
# default features stay on; FEATURES= builds without them, and the bw_shared_* functions
# then fail with BW_INVALID_CONFIG).
# The Go binding links the static library through breakwater-static.pc.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/breakwater
DESTDIR ?=
CARGO ?= cargo
CARGO_TARGET_DIR ?= target
FEATURES ?= redis
INSTALL ?= install

VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
# What the Rust static library needs from the system (`rustc --print native-static-libs`).
NATIVE_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
RELEASE := $(CARGO_TARGET_DIR)/release
empty :=
space := $(empty) $(empty)
CMAKE_NATIVE_LIBS := $(subst $(space),;,$(NATIVE_LIBS))

.PHONY: all build install uninstall
all: build

build:
	$(CARGO) build --release --lib $(if $(FEATURES),--features $(FEATURES))

define configure
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@NATIVE_LIBS@|$(NATIVE_LIBS)|g' \
	    -e 's|@CMAKE_NATIVE_LIBS@|$(CMAKE_NATIVE_LIBS)|g' $(1) > $(2)
endef

install: build
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	$(INSTALL) -m 644 include/breakwater.h $(DESTDIR)$(INCLUDEDIR)/breakwater.h
	$(INSTALL) -m 755 $(RELEASE)/libbreakwater.so $(DESTDIR)$(LIBDIR)/libbreakwater.so
	$(INSTALL) -m 644 $(RELEASE)/libbreakwater.a $(DESTDIR)$(LIBDIR)/libbreakwater.a
	$(call configure,packaging/breakwater.pc.in,$(DESTDIR)$(PKGCONFIGDIR)/breakwater.pc)
	$(call configure,packaging/breakwater-static.pc.in,$(DESTDIR)$(PKGCONFIGDIR)/breakwater-static.pc)
	$(call configure,packaging/breakwaterConfig.cmake.in,$(DESTDIR)$(CMAKEDIR)/breakwaterConfig.cmake)
	$(call configure,packaging/breakwaterConfigVersion.cmake.in,$(DESTDIR)$(CMAKEDIR)/breakwaterConfigVersion.cmake)
	@echo "installed breakwater $(VERSION) into $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/breakwater.h $(DESTDIR)$(LIBDIR)/libbreakwater.so \
	  $(DESTDIR)$(LIBDIR)/libbreakwater.a $(DESTDIR)$(PKGCONFIGDIR)/breakwater.pc \
	  $(DESTDIR)$(PKGCONFIGDIR)/breakwater-static.pc \
	  $(DESTDIR)$(CMAKEDIR)/breakwaterConfig.cmake $(DESTDIR)$(CMAKEDIR)/breakwaterConfigVersion.cmake
	-rmdir $(DESTDIR)$(CMAKEDIR)
