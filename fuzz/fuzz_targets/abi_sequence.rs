//! Random call sequences on C ABI handles (see `breakwater_fuzz::sequence`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    breakwater_fuzz::sequence(data);
});
