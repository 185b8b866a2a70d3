//! Arbitrary bytes as the inputs admins already have: a sosreport and an hwloc-gather-topology
//! capture (any compression, or a plain tar), each read, joined, audited and rendered; the
//! hwloc facts cross-checked with the sosreport's topology; and, line by line, cpu lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsnvlink::audit::Report;
use lsnvlink::inputs::{hwloc, sosreport};
use lsnvlink::render::report as render;

fuzz_target!(|data: &[u8]| {
    for line in String::from_utf8_lossy(data).lines().take(64) {
        let _ = hwloc::count_cpus(line);
    }
    let Ok(root) =
        fsroot::Root::archive_from_bytes("fuzz", data, lsnvlink::capture::replay_limits())
    else {
        return;
    };
    let facts = hwloc::read_root(&root).ok();
    if let Some(f) = &facts {
        let _ = (hwloc::text(f), hwloc::json(f));
    }
    if let Ok(topology) = sosreport::read_root(&root, &pci::Names::builtin()) {
        if let Some(f) = &facts {
            let _ = hwloc::cross_check(f, &topology);
        }
        let report = Report::new(topology);
        let _ = (
            render::text(&report),
            render::matrix(&report),
            render::json(&report),
        );
        let _ = lsnvlink::render::dot::dot(&report);
    }
});
