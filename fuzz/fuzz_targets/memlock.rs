//! Arbitrary bytes as a libvirt domain XML (then through the whole budget, checked arithmetic
//! included) and, line by line, as command-line and XML sizes and `--libvirt` versions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsnvlink::memlock::domain::parse_domain_bytes;
use lsnvlink::memlock::size::{KIB, kib_ceil, parse_scaled, parse_size};
use lsnvlink::memlock::version::Release;
use lsnvlink::memlock::{NoHost, budget, render};

fuzz_target!(|data: &[u8]| {
    if let Ok(guest) = parse_domain_bytes(data) {
        for release in [
            Release::Newest,
            Release::Version(5, 2, 0),
            Release::Version(3, 1, 0),
        ] {
            if let Ok(b) = budget(guest.clone(), release, &NoHost) {
                let _ = (render::text(&b), render::json(&b));
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    for line in text.lines().take(64) {
        if let Ok(bytes) = parse_size(line) {
            // Whatever parses is a whole number of its unit, never wrapped.
            assert!(kib_ceil(bytes) <= 1 << 54);
        }
        let (value, unit) = line.split_once(' ').unwrap_or((line, ""));
        let _ = parse_scaled(value, Some(unit), KIB);
        if let Ok(release) = line.parse::<Release>() {
            assert_eq!(release.to_string().parse::<Release>().ok(), Some(release));
        }
    }
});
