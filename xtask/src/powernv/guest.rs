//! What the guest is: QEMU's `powernv9` machine with PCIe endpoints on four of the chip's six
//! PHB4 root ports, the initramfs's `/init` (busybox `sh`, linked as `/bin/sh`) that runs lsnvlink live and writes
//! everything to the NVMe drive as a tar, and the libvirt domain XML `memlock` reads.
//!
//! The PHB4 root ports are QEMU's buses `pcie.0` … `pcie.5` (QEMU `hw/pci-host/pnv_phb4.c`);
//! skiboot gives PHB N PCI domain N. The NVMe drive doubles as the output disk: the guest
//! writes a plain tar to `/dev/nvme0n1` (no filesystem, no `mkfs`), and the host reads the
//! image file back as a tar.

/// One PCI function the guest must show: address, `vendor:device`, and the driver bound to it
/// (`None`: none is, as for the PHB4 root ports and the switch ports under Debian's kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// `DDDD:BB:DD.F`.
    pub address: &'static str,
    /// `vvvv:dddd`.
    pub id: &'static str,
    /// The bound driver's name.
    pub driver: Option<&'static str>,
}

const fn f(address: &'static str, id: &'static str, driver: Option<&'static str>) -> Function {
    Function {
        address,
        id,
        driver,
    }
}

/// Every PCI function of the guest, in address order: six PHB4 root ports (IBM `1014:04c1`),
/// an e1000e on PHB 1, the NVMe drive on PHB 2, an xHCI on PHB 3, and on PHB 4 a TI XIO3130
/// switch (upstream and one downstream port) with a second e1000e behind it.
pub const FUNCTIONS: &[Function] = &[
    f("0000:00:00.0", "1014:04c1", None),
    f("0001:00:00.0", "1014:04c1", None),
    f("0001:01:00.0", "8086:10d3", Some("e1000e")),
    f("0002:00:00.0", "1014:04c1", None),
    f("0002:01:00.0", "1b36:0010", Some("nvme")),
    f("0003:00:00.0", "1014:04c1", None),
    f("0003:01:00.0", "1b36:000d", Some("xhci_hcd")),
    f("0004:00:00.0", "1014:04c1", None),
    f("0004:01:00.0", "104c:8232", None),
    f("0004:02:00.0", "104c:8233", None),
    f("0004:03:00.0", "8086:10d3", Some("e1000e")),
    f("0005:00:00.0", "1014:04c1", None),
];

/// The modules the drivers above need (their dependencies are added by
/// [`super::fetch::modules_in_load_order`]).
pub const MODULES: &[&str] = &["nvme", "e1000e", "xhci-pci"];

/// The devices assigned in [`DOMAIN_XML`] (each in its own IOMMU group on this machine).
pub const ASSIGNED: &[&str] = &["0001:01:00.0", "0003:01:00.0", "0004:03:00.0"];

/// The guest's host name, set before anything runs (it shows in the report and the capture).
pub const HOSTNAME: &str = "powernv9-qemu";

/// A pSeries KVM guest that is given the two e1000e and the xHCI with VFIO.
pub const DOMAIN_XML: &str = "<domain type='kvm'>
  <name>powernv-guest</name>
  <memory unit='GiB'>4</memory>
  <os><type arch='ppc64le' machine='pseries'>hvm</type></os>
  <devices>
    <controller type='pci' index='0' model='pci-root'/>
    <hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>
      <source><address domain='0x0001' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>
      <source><address domain='0x0003' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>
      <source><address domain='0x0004' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>
  </devices>
</domain>
";

/// The lsnvlink runs inside the guest: (output name, arguments). Each writes `NAME.out`,
/// `NAME.err` and its exit status in `NAME.rc`; every one must exit 0.
pub const COMMANDS: &[(&str, &str)] = &[
    ("report", ""),
    ("report-json", "--format json"),
    ("report-matrix", "--format matrix"),
    ("pci", "pci --pci-ids /pci.ids"),
    ("pci-tree", "pci -t --pci-ids /pci.ids"),
    ("pci-vmm", "pci --format vmm --pci-ids /pci.ids"),
    ("pci-json", "pci --format json --pci-ids /pci.ids"),
    ("dt", "dt dump"),
    ("memlock", "memlock --domain /guest.xml"),
    ("memlock-json", "memlock --domain /guest.xml --format json"),
    ("prom", "--format prom -o /out/metrics.prom"),
    ("capture", "capture -o /out/live.tar.gz"),
];

/// The file the guest writes last: its presence says `/init` ran to the end.
pub const DONE: &str = "done";

/// The initramfs's `/init`: mounts, loads `modules` (in order), runs [`COMMANDS`], copies the
/// device tree raw (`/sys/firmware/devicetree/base`, for `dtc -I fs` on the host), writes
/// `/out` as a tar to the NVMe drive, and powers off.
pub fn init_script(modules: &[String]) -> String {
    let mut s = String::from(
        "#!/bin/sh\n\
         /bin/busybox --install -s /bin\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev\n",
    );
    s.push_str(&format!("hostname {HOSTNAME}\n"));
    s.push_str("echo 'powernv: loading modules'\n");
    for m in modules {
        s.push_str(&format!(
            "insmod /modules/{m}.ko || echo 'powernv: insmod {m} failed'\n"
        ));
    }
    // Drivers bind as their modules load; the NVMe namespace appears a little later.
    s.push_str(
        "i=0; while [ ! -b /dev/nvme0n1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         mkdir -p /out && cd /out\n\
         uname -r > kernel-release\n\
         cat /proc/modules > modules\n\
         run() { name=$1; shift; echo \"powernv: lsnvlink $*\"; lsnvlink \"$@\" > $name.out 2> $name.err; echo $? > $name.rc; }\n",
    );
    for (name, args) in COMMANDS {
        s.push_str(&format!("run {name} {args}\n"));
    }
    s.push_str(&format!(
        "tar -cf /out/device-tree.tar -C /sys/firmware/devicetree base\n\
         touch {DONE}\n\
         echo 'powernv: writing /out to /dev/nvme0n1'\n\
         tar -cf /dev/nvme0n1 .\n\
         sync\n\
         echo 'powernv: done'\n\
         poweroff -f\n"
    ));
    s
}

/// The QEMU arguments after the program name: `vmlinux`, `initramfs` and the output `disk`
/// image given.
pub fn qemu_args(vmlinux: &str, initramfs: &str, disk: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "-M",
        "powernv9",
        "-m",
        "2G",
        "-nographic",
        "-no-reboot",
        "-kernel",
        vmlinux,
        "-initrd",
        initramfs,
        "-append",
        "console=hvc0 panic=-1 quiet",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // No option ROMs: QEMU's `efi-*.rom` files are in another package and a PowerNV host
    // runs none.
    for device in [
        "e1000e,bus=pcie.1,addr=0x0,romfile=".to_owned(),
        "nvme,serial=lsnvlink-out,drive=out,bus=pcie.2,addr=0x0".to_owned(),
        "qemu-xhci,bus=pcie.3,addr=0x0".to_owned(),
        "x3130-upstream,id=sw0up,bus=pcie.4,addr=0x0".to_owned(),
        "xio3130-downstream,id=sw0dn0,bus=sw0up,chassis=9,slot=0".to_owned(),
        "e1000e,bus=sw0dn0,addr=0x0,romfile=".to_owned(),
    ] {
        args.push("-device".into());
        args.push(device);
    }
    args.push("-drive".into());
    args.push(format!("file={disk},if=none,id=out,format=raw"));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_runs_every_command_and_ends_by_powering_off() {
        let s = init_script(&["nvme_core".into(), "nvme".into()]);
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("insmod /modules/nvme_core.ko"));
        for (name, _) in COMMANDS {
            assert!(s.contains(&format!("run {name} ")), "{name}");
        }
        assert!(s.trim_end().ends_with("poweroff -f"));
    }

    #[test]
    fn the_assigned_devices_are_endpoints_of_the_guest() {
        for a in ASSIGNED {
            assert!(
                FUNCTIONS
                    .iter()
                    .any(|f| f.address == *a && f.driver.is_some())
            );
            let (dom, rest) = a.split_once(':').unwrap_or_default();
            let bus = rest.split(':').next().unwrap_or_default();
            assert!(DOMAIN_XML.contains(&format!("domain='0x{dom}' bus='0x{bus}'")));
        }
    }
}
