//! The standard header at the start of a function's configuration space (its first 64 bytes).

/// The fields lsnvlink uses from the first 64 bytes of configuration space (little-endian, as
/// the PCI Local Bus Specification lays it out; offsets as in Linux's
/// `include/uapi/linux/pci_regs.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigHeader {
    /// Vendor id (offset 0x00).
    pub vendor_id: u16,
    /// Device id (offset 0x02).
    pub device_id: u16,
    /// Revision id (offset 0x08).
    pub revision: u8,
    /// Class code: base class, subclass, programming interface (offsets 0x0b, 0x0a, 0x09).
    pub class: u32,
    /// Header type (offset 0x0e), bit 7 (multi-function) included.
    pub header_type: u8,
    /// Bus numbers behind a bridge (header types 1 and 2).
    pub bridge: Option<BridgeBuses>,
    /// Subsystem vendor and device ids (header type 0 only, offsets 0x2c and 0x2e).
    pub subsystem: Option<(u16, u16)>,
}

/// The bus numbers a PCI-to-PCI or CardBus bridge forwards to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeBuses {
    /// The bus the bridge sits on (offset 0x18).
    pub primary: u8,
    /// The bus directly behind it (offset 0x19).
    pub secondary: u8,
    /// The highest bus behind it (offset 0x1a).
    pub subordinate: u8,
}

/// How many bytes of configuration space the header needs.
pub const HEADER_LEN: usize = 64;

/// Header type 1: PCI-to-PCI bridge.
pub const HEADER_TYPE_BRIDGE: u8 = 1;
/// Header type 2: CardBus bridge.
pub const HEADER_TYPE_CARDBUS: u8 = 2;

impl ConfigHeader {
    /// Decodes the first 64 bytes of `config`; `None` when fewer than 64 bytes are given.
    pub fn parse(config: &[u8]) -> Option<ConfigHeader> {
        let b = config.get(..HEADER_LEN)?;
        let byte = |at: usize| b.get(at).copied().unwrap_or(0);
        let word = |at: usize| u16::from_le_bytes([byte(at), byte(at + 1)]);
        let header_type = byte(0x0e);
        let layout = header_type & 0x7f;
        let bridge =
            (layout == HEADER_TYPE_BRIDGE || layout == HEADER_TYPE_CARDBUS).then(|| BridgeBuses {
                primary: byte(0x18),
                secondary: byte(0x19),
                subordinate: byte(0x1a),
            });
        Some(ConfigHeader {
            vendor_id: word(0x00),
            device_id: word(0x02),
            revision: byte(0x08),
            class: u32::from(byte(0x0b)) << 16 | u32::from(byte(0x0a)) << 8 | u32::from(byte(0x09)),
            header_type,
            bridge,
            subsystem: (layout == 0).then(|| (word(0x2c), word(0x2e))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_and_endpoint() {
        let mut cfg = [0u8; 64];
        cfg[0..4].copy_from_slice(&[0xb5, 0x10, 0x25, 0x87]);
        cfg[8] = 0xca;
        cfg[0x0b] = 0x06;
        cfg[0x0a] = 0x04;
        cfg[0x0e] = 0x81;
        cfg[0x18..0x1b].copy_from_slice(&[1, 2, 9]);
        let h = ConfigHeader::parse(&cfg).unwrap();
        assert_eq!(
            (h.vendor_id, h.device_id, h.revision),
            (0x10b5, 0x8725, 0xca)
        );
        assert_eq!(h.class, 0x060400);
        assert_eq!(
            h.bridge,
            Some(BridgeBuses {
                primary: 1,
                secondary: 2,
                subordinate: 9
            })
        );
        assert_eq!(h.subsystem, None);

        cfg[0x0e] = 0x80;
        cfg[0x2c..0x30].copy_from_slice(&[0xde, 0x10, 0x12, 0x12]);
        let h = ConfigHeader::parse(&cfg).unwrap();
        assert_eq!(h.bridge, None);
        assert_eq!(h.subsystem, Some((0x10de, 0x1212)));
        assert!(ConfigHeader::parse(&cfg[..63]).is_none());
    }
}
