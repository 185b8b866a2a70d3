//! PCI addresses: `DDDD:BB:DD.F`, and the `pciDDDD:BB` name of a root bus.

use std::fmt;
use std::str::FromStr;

/// The address of a PCI function: domain (segment), bus, device and function.
///
/// Linux prints it as `DDDD:BB:DD.F` with at least four hex digits of domain; domains above
/// `0xffff` exist (Intel VMD, Hyper-V) and print with more digits (`10000:00:00.0`), so the
/// domain is 32 bits wide. Addresses order by domain, then bus, device and function, which is
/// the order `lspci` lists them in.
///
/// ```
/// use lsnvlink_pci::PciAddress;
///
/// let gpu: PciAddress = "0004:04:00.0".parse()?;
/// assert_eq!((gpu.domain(), gpu.bus(), gpu.device(), gpu.function()), (4, 4, 0, 0));
/// assert_eq!(gpu.to_string(), "0004:04:00.0");
/// assert!(gpu < "0035:03:00.0".parse()?);
/// # Ok::<(), lsnvlink_pci::AddressError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddress {
    domain: u32,
    bus: u8,
    device: u8,
    function: u8,
}

impl PciAddress {
    /// The address `domain:bus:device.function`, or `None` when `device` is above 31 or
    /// `function` above 7.
    pub fn new(domain: u32, bus: u8, device: u8, function: u8) -> Option<PciAddress> {
        (device < 32 && function < 8).then_some(PciAddress {
            domain,
            bus,
            device,
            function,
        })
    }

    /// The domain (PCI segment); on POWER9 the OPAL PHB id.
    pub fn domain(&self) -> u32 {
        self.domain
    }

    /// The bus number.
    pub fn bus(&self) -> u8 {
        self.bus
    }

    /// The device (slot) number, 0–31.
    pub fn device(&self) -> u8 {
        self.device
    }

    /// The function number, 0–7.
    pub fn function(&self) -> u8 {
        self.function
    }

    /// The bus this function sits on.
    pub fn bus_address(&self) -> BusAddress {
        BusAddress {
            domain: self.domain,
            bus: self.bus,
        }
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

/// Why a text is not a PCI address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a PCI address ({reason})")]
pub struct AddressError {
    text: String,
    reason: &'static str,
}

impl AddressError {
    fn new(text: &str, reason: &'static str) -> AddressError {
        // Keep errors small whatever the input: a name in sysfs is at most 255 bytes anyway.
        let text = text.chars().take(64).collect();
        AddressError { text, reason }
    }

    /// The text that was refused (at most its first 64 characters).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Parses one hex field of `min..=max` digits that fits in `bits` bits.
fn hex_field(
    whole: &str,
    field: &str,
    min: usize,
    max: usize,
    what: &'static str,
) -> Result<u32, AddressError> {
    if field.len() < min || field.len() > max {
        return Err(AddressError::new(whole, what));
    }
    if !field.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AddressError::new(whole, what));
    }
    u32::from_str_radix(field, 16).map_err(|_| AddressError::new(whole, what))
}

impl FromStr for PciAddress {
    type Err = AddressError;

    /// Parses `DDDD:BB:DD.F` as Linux names devices: a domain of 4 to 8 hex digits, a bus of
    /// 2, a device of 2 (at most `1f`) and a function of 1 (at most `7`).
    fn from_str(text: &str) -> Result<PciAddress, AddressError> {
        let (rest, function) = text
            .rsplit_once('.')
            .ok_or_else(|| AddressError::new(text, "no '.' before the function"))?;
        let mut parts = rest.split(':');
        let (Some(domain), Some(bus), Some(device), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AddressError::new(
                text,
                "expected domain:bus:device.function",
            ));
        };
        let domain = hex_field(text, domain, 4, 8, "domain must be 4 to 8 hex digits")?;
        let bus = hex_field(text, bus, 2, 2, "bus must be 2 hex digits")?;
        let device = hex_field(text, device, 2, 2, "device must be 2 hex digits")?;
        let function = hex_field(text, function, 1, 1, "function must be 1 hex digit")?;
        let (Ok(bus), Ok(device), Ok(function)) = (
            u8::try_from(bus),
            u8::try_from(device),
            u8::try_from(function),
        ) else {
            return Err(AddressError::new(text, "field out of range"));
        };
        if device > 0x1f {
            return Err(AddressError::new(text, "device above 1f"));
        }
        if function > 7 {
            return Err(AddressError::new(text, "function above 7"));
        }
        Ok(PciAddress {
            domain,
            bus,
            device,
            function,
        })
    }
}

/// A bus: domain and bus number, printed `DDDD:BB`. A root bus's sysfs directory is
/// `/sys/devices/pciDDDD:BB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusAddress {
    /// The domain (PCI segment).
    pub domain: u32,
    /// The bus number.
    pub bus: u8,
}

impl BusAddress {
    /// Parses the name of a root bus directory, `pciDDDD:BB`.
    pub fn from_root_dir_name(name: &str) -> Result<BusAddress, AddressError> {
        let rest = name
            .strip_prefix("pci")
            .ok_or_else(|| AddressError::new(name, "root bus directory must start with 'pci'"))?;
        let (domain, bus) = rest
            .split_once(':')
            .ok_or_else(|| AddressError::new(name, "expected pciDOMAIN:BUS"))?;
        let domain = hex_field(name, domain, 4, 8, "domain must be 4 to 8 hex digits")?;
        let bus = hex_field(name, bus, 2, 2, "bus must be 2 hex digits")?;
        let bus = u8::try_from(bus).map_err(|_| AddressError::new(name, "bus out of range"))?;
        Ok(BusAddress { domain, bus })
    }
}

impl fmt::Display for BusAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:02x}", self.domain, self.bus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let a: PciAddress = "0035:03:00.0".parse().unwrap();
        assert_eq!(a, PciAddress::new(0x35, 3, 0, 0).unwrap());
        assert_eq!(a.to_string(), "0035:03:00.0");
        let big: PciAddress = "10000:e1:1f.7".parse().unwrap();
        assert_eq!(big.domain(), 0x10000);
        assert_eq!(big.to_string(), "10000:e1:1f.7");
        let max: PciAddress = "ffffffff:ff:1f.7".parse().unwrap();
        assert_eq!(max.domain(), u32::MAX);
        assert_eq!(max.to_string(), "ffffffff:ff:1f.7");
        // Upper-case hex is accepted, printed back in lower case as Linux does.
        assert_eq!(
            "000A:0B:0C.1".parse::<PciAddress>().unwrap().to_string(),
            "000a:0b:0c.1"
        );
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "0000:00:00",
            "0000:00:00.8",
            "0000:00:20.0",
            "000:00:00.0",
            "100000000:00:00.0",
            "0000:000:00.0",
            "0000:0:00.0",
            "0000:00:00.00",
            "0000:00:00.x",
            "0000:zz:00.0",
            "00:00.0",
            "0000:00:00:00.0",
            "+000:00:00.0",
            "0000:+0:00.0",
            "pci0000:00",
            "0000:00:00.0 ",
        ] {
            assert!(bad.parse::<PciAddress>().is_err(), "{bad:?} was accepted");
        }
        let err = "0000:00:20.0".parse::<PciAddress>().unwrap_err();
        assert_eq!(err.reason(), "device above 1f");
        assert_eq!(err.text(), "0000:00:20.0");
    }

    #[test]
    fn orders_like_lspci() {
        let mut v: Vec<PciAddress> = [
            "0035:03:00.0",
            "0004:04:00.0",
            "10000:00:00.0",
            "0004:00:00.1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            s,
            [
                "0004:00:00.1",
                "0004:04:00.0",
                "0035:03:00.0",
                "10000:00:00.0"
            ]
        );
    }

    #[test]
    fn root_bus_names() {
        let b = BusAddress::from_root_dir_name("pci0006:00").unwrap();
        assert_eq!((b.domain, b.bus), (6, 0));
        assert_eq!(b.to_string(), "0006:00");
        assert!(BusAddress::from_root_dir_name("pci10000:00").is_ok());
        assert!(BusAddress::from_root_dir_name("0006:00").is_err());
        assert!(BusAddress::from_root_dir_name("pci0006").is_err());
        assert!(BusAddress::from_root_dir_name("pci0006:0g").is_err());
    }
}
