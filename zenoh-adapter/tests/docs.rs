//! The configurations the documents show are valid: the `[zenoh]` section
//! in `docs/hub-config.md`, every hub's config in `docs/multi-host.md`.

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
fn the_zenoh_section_of_the_config_reference_is_valid() {
    let doc = include_str!("../../docs/hub-config.md");
    let (_, section) = doc.split_once("## The zenoh bridge").unwrap();
    let block = blocks(section, "```text\n")[0];
    let hub = Config::parse(block, "doc", Path::new("/etc/memwire")).unwrap();
    let config = BridgeConfig::from_section(hub.zenoh.as_ref().unwrap()).unwrap();
    assert_eq!(config.connect.len(), 2);
    assert!(config.exports("plant", "line"));
    assert!(!config.exports("fleet", "robot2"));
}

#[test]
fn the_multi_host_guide_configs_are_valid() {
    let doc = include_str!("../../docs/multi-host.md");
    let toml = blocks(doc, "```toml\n");
    assert_eq!(toml.len(), 2, "two hubs");
    for block in toml {
        let hub = Config::parse(block, "doc", Path::new("/etc/memwire")).unwrap();
        let section = hub.zenoh.as_ref().expect("a [zenoh] section");
        BridgeConfig::from_section(section)
            .unwrap()
            .zenoh()
            .unwrap();
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
