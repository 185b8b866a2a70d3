//! Property tests for address and attribute parsing: round trips, and no panic on any input.

use lsnvlink_pci::value::{parse_class, parse_hex, parse_i32, parse_id, parse_u8};
use lsnvlink_pci::{ConfigHeader, PciAddress, PciIds};
use proptest::prelude::*;

proptest! {
    #[test]
    fn address_round_trips(domain: u32, bus: u8, device in 0u8..32, function in 0u8..8) {
        let a = PciAddress::new(domain, bus, device, function).unwrap();
        let text = a.to_string();
        prop_assert_eq!(text.parse::<PciAddress>().unwrap(), a);
        prop_assert_eq!(text.to_uppercase().parse::<PciAddress>().unwrap(), a);
    }

    #[test]
    fn address_order_is_field_order(a: (u32, u8, u8, u8), b: (u32, u8, u8, u8)) {
        let make = |(d, bu, de, f): (u32, u8, u8, u8)| PciAddress::new(d, bu, de % 32, f % 8).unwrap();
        let (x, y) = (make(a), make(b));
        let key = |p: PciAddress| (p.domain(), p.bus(), p.device(), p.function());
        prop_assert_eq!(x.cmp(&y), key(x).cmp(&key(y)));
    }

    #[test]
    fn any_text_parses_or_is_refused(text in "\\PC{0,24}|[0-9a-fA-F:.]{0,20}") {
        if let Ok(a) = text.parse::<PciAddress>() {
            // Whatever is accepted prints back to something that parses to the same address.
            prop_assert_eq!(a.to_string().parse::<PciAddress>().unwrap(), a);
        }
    }

    #[test]
    fn ids_round_trip(v: u16) {
        prop_assert_eq!(parse_id(format!("0x{v:04x}\n").as_bytes()), Ok(v));
        prop_assert_eq!(parse_u8(format!("0x{:02x}\n", v as u8).as_bytes()), Ok(v as u8));
    }

    #[test]
    fn numbers_round_trip(n: i32, class in 0u32..0x100_0000) {
        prop_assert_eq!(parse_i32(format!("{n}\n").as_bytes()), Ok(n));
        prop_assert_eq!(parse_class(format!("0x{class:06x}\n").as_bytes()), Ok(class));
    }

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80), max: u64) {
        let _ = parse_hex(&bytes, max);
        let _ = parse_id(&bytes);
        let _ = parse_i32(&bytes);
        let _ = ConfigHeader::parse(&bytes);
        if let Ok(v) = parse_hex(&bytes, max) {
            prop_assert!(v <= max);
        }
    }

    #[test]
    fn any_pci_ids_never_panics(text in "([0-9a-fC \\t]{0,12}[ \\t]{0,3}[a-z]{0,4}\\n){0,20}") {
        let _ = PciIds::parse(&text, |_| true);
    }
}
