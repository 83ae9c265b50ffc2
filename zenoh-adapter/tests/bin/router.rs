//! A zenoh router for the tests: a session in router mode, listening on
//! one endpoint and connecting to others, multicast and gossip scouting
//! off. `zenoh-router <listen> [<connect>...]`; prints `ready` once open.
//! With `ZENOH_ROUTER_ACL` set, its value (json5, the object's contents) is
//! the router's `access_control`; with `ZENOH_ROUTER_USERS`, the sessions
//! connecting authenticate with the user names and passwords of that file
//! (`user:password` lines).

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .expect("usage: zenoh-router <listen> [<connect>...]");
    let connect: Vec<String> = args.map(|a| format!("{a:?}")).collect();
    let text = format!(
        r#"{{
            mode: "router",
            listen: {{ endpoints: [{listen:?}] }},
            connect: {{ endpoints: [{}] }},
            scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }},
            {acl}
            {users}
        }}"#,
        connect.join(", "),
        acl = std::env::var("ZENOH_ROUTER_ACL")
            .map(|rules| format!("access_control: {{ {rules} }},"))
            .unwrap_or_default(),
        users = std::env::var("ZENOH_ROUTER_USERS")
            .map(|file| format!(
                "transport: {{ auth: {{ usrpwd: {{ dictionary_file: {file:?} }} }} }},"
            ))
            .unwrap_or_default(),
    );
    let config = zenoh::Config::from_json5(&text).expect("router config");
    let _session = zenoh::open(config).await.expect("router session");
    println!("ready");
    std::future::pending::<()>().await;
}
