//! The JSON constructor of the pool, through the C ABI (see `breakwater_fuzz::json`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    breakwater_fuzz::json(breakwater_fuzz::abi::Policy::Pool, data);
});
