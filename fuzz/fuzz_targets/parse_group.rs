//! Any bytes as a container-group PUT (first line the group's name, the rest its body)
//! through the API's parser and validator: it must answer Ok or a field error, never panic.
//! Run: `cargo fuzz run parse_group -s none` from the project root (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    waci_platform::api::fuzz_one(data);
});
