//! `--format dot`: snapshots for every capture; Graphviz's `dot` must accept each graph (it is
//! installed where the pictures are made and in CI; the test fails loudly without it).

use lsnvlink::render::dot::dot;

use crate::common::{self, CAPTURES, graphviz, report as read};

#[test]
fn every_capture_gives_a_graph_dot_accepts_and_a_snapshot() {
    for name in CAPTURES {
        let text = dot(&read(name));
        graphviz(&text);
        assert_snapshot!(format!("{name}__dot"), text);
    }
}

#[test]
fn the_six_gpu_host_has_its_chips_links_and_memory() {
    let text = dot(&read("ac922-6gpu-32gb-vfio"));
    assert_eq!(text.matches("subgraph cluster_chip_").count(), 2);
    assert_eq!(text.matches("shape=cds").count(), 12, "12 NVLink bridges");
    assert_eq!(text.matches("shape=cylinder").count(), 6, "6 GPU memories");
    // Three GPUs per socket, each pair linked once: 3 pairs per socket.
    assert_eq!(text.matches("label=\"NV2 (inferred)\"").count(), 6);
    assert_eq!(text.matches("label=\"25.78125 Gb/s\"").count(), 12);
}

#[test]
fn a_bridge_gone_from_the_bus_is_drawn_dashed_from_the_device_tree() {
    let text = dot(&read("ac922-4gpu-eeh-removed"));
    assert_eq!(text.matches("label=\"gone\"").count(), 3);
    assert_eq!(text.matches("not on the bus").count(), 3);
    assert_eq!(
        text.matches("shape=cds").count(),
        12,
        "the gone bridge is still drawn"
    );
    let healthy = dot(&read("ac922-4gpu-16gb-nvidia"));
    assert!(!healthy.contains("not on the bus"));
    assert!(!healthy.contains("absent bridge"));
    // On a kernel that shows no bridge at all they are grey, not red.
    let k514 = dot(&read("ac922-4gpu-kernel-5.14"));
    assert_eq!(k514.matches("(device tree only)").count(), 12);
    assert!(!k514.contains("color=red"));
    assert_eq!(healthy.matches("label=\"NV3\"").count(), 2);
}

#[test]
fn hostile_names_stay_inside_their_quotes() {
    let mut r = read("ac922-4gpu-16gb-nvidia");
    r.topology.platform.hostname = Some("a\"; evil -- x [\\".to_owned());
    r.topology.gpus[0].name = "n\"}\n{".to_owned();
    let count = |plain: &str, kind: &str| plain.lines().filter(|l| l.starts_with(kind)).count();
    let hostile = graphviz(&dot(&r));
    let healthy = graphviz(&dot(&read("ac922-4gpu-16gb-nvidia")));
    assert_eq!(
        count(&hostile, "node "),
        count(&healthy, "node "),
        "{hostile}"
    );
    assert_eq!(
        count(&hostile, "edge "),
        count(&healthy, "edge "),
        "{hostile}"
    );
    assert!(count(&healthy, "edge ") > 20);
}

#[test]
fn the_command_writes_the_same_graph() {
    let path = common::capture("ac922-6gpu-32gb-vfio");
    let o = common::lsnvlink_command()
        .arg("--capture")
        .arg(path)
        .args(["--format", "dot"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        dot(&read("ac922-6gpu-32gb-vfio"))
    );
}
