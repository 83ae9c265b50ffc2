//! The configurations the documents show are valid: the bridge's file in
//! `docs/hub-config.md`, every hub and bridge file in `docs/multi-host.md`.

use std::path::Path;

use memwire_std::hub::Config;
use memwire_zenoh::BridgeConfig;

/// The blocks after each line starting with `fence` in `doc`.
fn blocks<'a>(doc: &'a str, fence: &str) -> Vec<&'a str> {
    doc.split(fence)
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(text, _)| text))
        .collect()
}

#[test]
fn the_bridge_file_of_the_config_reference_is_valid() {
    let doc = include_str!("../../docs/hub-config.md");
    let (_, section) = doc.split_once("## The zenoh bridge").unwrap();
    let block = blocks(section, "```text\n")[0];
    let config = BridgeConfig::parse(block, Path::new("/etc/memwire")).unwrap();
    assert_eq!(config.connect.len(), 2);
    assert!(config.exports("plant", "line"));
    assert!(!config.exports("fleet", "robot2"));
}

#[test]
fn the_multi_host_guide_configs_are_valid() {
    let doc = include_str!("../../docs/multi-host.md");
    let toml = blocks(doc, "```toml\n");
    assert_eq!(toml.len(), 4, "two hubs, each with a bridge file");
    for block in toml {
        if block.contains("[[tenant]]") {
            Config::parse(block, "doc", Path::new("/etc/memwire")).unwrap();
        } else {
            let bridge = BridgeConfig::parse(block, Path::new("/etc/memwire")).unwrap();
            bridge.zenoh().unwrap();
        }
    }
}

#[test]
fn the_multi_host_guide_router_and_access_control_are_valid_zenoh_configs() {
    let doc = include_str!("../../docs/multi-host.md");
    let json5 = blocks(doc, "```json5\n");
    assert_eq!(json5.len(), 2, "the router's config and its access control");
    let router = json5[0]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    zenoh::Config::from_json5(&router).unwrap();
    let acl = zenoh::Config::from_json5(&format!("{{ {} }}", json5[1])).unwrap();
    assert_eq!(acl.get_json("access_control/enabled").unwrap(), "true");
}
