//! The zenoh key expressions of a region (`spec/zenoh-keys.md`): one key
//! space per region, `memwire/<tenant>/<region>/…`.

/// The first chunk of every key memwire uses.
pub const PREFIX: &str = "memwire";

/// The keys of region `tenant/region`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionKeys {
    /// Where the owner puts each update.
    pub update: String,
    /// The owner's queryable answering "since generation g of instance i".
    pub snapshot: String,
    /// The owner's queryable applying writes.
    pub write: String,
    /// The owner's liveliness token.
    pub owner: String,
}

impl RegionKeys {
    /// The keys of `tenant/region`.
    pub fn new(tenant: &str, region: &str) -> RegionKeys {
        let base = format!("{PREFIX}/{tenant}/{region}");
        RegionKeys {
            update: format!("{base}/update"),
            snapshot: format!("{base}/snapshot"),
            write: format!("{base}/write"),
            owner: format!("{base}/owner"),
        }
    }
}

/// Every key of tenant `tenant`, for access control rules.
pub fn tenant_keys(tenant: &str) -> String {
    format!("{PREFIX}/{tenant}/**")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_frozen() {
        let keys = RegionKeys::new("plant", "line1");
        assert_eq!(keys.update, "memwire/plant/line1/update");
        assert_eq!(keys.snapshot, "memwire/plant/line1/snapshot");
        assert_eq!(keys.write, "memwire/plant/line1/write");
        assert_eq!(keys.owner, "memwire/plant/line1/owner");
        assert_eq!(tenant_keys("plant"), "memwire/plant/**");
    }
}
