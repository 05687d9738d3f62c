#![no_main]
//! libFuzzer entry point; the logic is `trustroom_fuzz::ot_ops`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| trustroom_fuzz::ot_ops(data));
