#![no_main]
//! libFuzzer entry point; the logic is `trustroom_fuzz::protocol_decoder`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| trustroom_fuzz::protocol_decoder(data));
