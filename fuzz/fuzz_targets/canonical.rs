#![no_main]
//! libFuzzer entry point; the logic is `trustroom_fuzz::canonical`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| trustroom_fuzz::canonical(data));
