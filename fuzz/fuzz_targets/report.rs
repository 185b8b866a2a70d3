//! Arbitrary bytes as a capture archive through the whole report, as `lsnvlink --capture`
//! runs it: the archive within the replay limits, the PCI walk, the device tree, the join and
//! the audit, then every renderer (text, matrix, JSON, Prometheus, Graphviz), the fleet view
//! of the host, and the memlock budget of a guest given every GPU and bridge on that host.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use lsnvlink::audit::Report;
use lsnvlink::facts::HostFacts;
use lsnvlink::fleet::{self, Fleet, Host};
use lsnvlink::memlock::domain::parse_domain_bytes;
use lsnvlink::memlock::version::Release;
use lsnvlink::memlock::{FactsHost, budget, render as memlock_render};
use lsnvlink::render::{dot, prom, report as render};
use lsnvlink::topology::Topology;

/// A guest of 64 GiB with every GPU and NVLink bridge of the host as a hostdev.
fn guest_xml(report: &Report) -> String {
    let mut xml = String::from(
        "<domain type='kvm'><name>fuzz</name><memory unit='GiB'>64</memory>\
         <os><type arch='ppc64le' machine='pseries'>hvm</type></os><devices>",
    );
    let gpus = report.topology.gpus.iter().map(|g| g.address);
    let bridges = report.topology.bridges.iter().map(|b| b.address);
    for a in gpus.chain(bridges).take(64) {
        xml.push_str(&format!(
            "<hostdev mode='subsystem' type='pci' managed='yes'><source><address \
             domain='{:#06x}' bus='{:#04x}' slot='{:#04x}' function='{:#x}'/></source></hostdev>",
            a.domain(),
            a.bus(),
            a.device(),
            a.function()
        ));
    }
    xml.push_str("</devices></domain>");
    xml
}

fuzz_target!(|data: &[u8]| {
    let Ok(root) =
        fsroot::Root::archive_from_bytes("fuzz", data, lsnvlink::capture::replay_limits())
    else {
        return;
    };
    let Ok(facts) = HostFacts::read(&root) else {
        return;
    };
    let report = Report::new(Topology::from_facts(&facts, &pci::Names::builtin()));
    let _ = render::text(&report);
    let _ = render::matrix(&report);
    let _ = render::json(&report);
    let _ = prom::prom(&report, &[], 0);
    let _ = dot::dot(&report);
    let host = Host::from_report(PathBuf::from("fuzz.tar.gz"), &report);
    let fleet = Fleet::from_hosts(vec![host.clone(), host]);
    let _ = fleet::render::write_text(&mut std::io::sink(), &fleet);
    let _ = fleet::render::write_json_lines(&mut std::io::sink(), &fleet);
    if let Ok(guest) = parse_domain_bytes(guest_xml(&report).as_bytes()) {
        if let Ok(b) = budget(
            guest,
            Release::Newest,
            &FactsHost::new(&facts, Some(&report.topology)),
        ) {
            let _ = (memlock_render::text(&b), memlock_render::json(&b));
        }
    }
});
