//! The Redis-shared JSON constructors, never reaching a real server (see
//! `breakwater_fuzz::json_shared`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    breakwater_fuzz::json_shared(data);
});
