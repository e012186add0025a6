use super::*;

fn run(args: &[&str]) -> Result<Config, ConfigError> {
    let argv = std::iter::once("daprd")
        .chain(args.iter().copied())
        .map(OsString::from);
    match parse(argv, |_| None)? {
        Command::Run(c) => Ok(*c),
        Command::Print(p) => Err(err(format!("printed {p}"))),
    }
}

#[test]
fn official_cli_arguments_are_accepted() {
    let c = run(&[
        "--app-id",
        "nodeapp",
        "--app-port",
        "3000",
        "--dapr-http-port",
        "3501",
        "--dapr-grpc-port",
        "50002",
        "--profile-port",
        "-1",
        "--metrics-port",
        "9091",
        "--dapr-internal-grpc-port",
        "47301",
        "--app-protocol",
        "http",
        "--app-max-concurrency",
        "-1",
        "--resources-path",
        "/a",
        "--resources-path",
        "/b,/c",
        "--placement-host-address",
        "localhost:50005",
        "--scheduler-host-address",
        "localhost:50006",
        "--max-body-size",
        "4Mi",
        "--read-buffer-size",
        "4Ki",
        "--enable-api-logging",
        "--enable-metrics=false",
        "-log-level",
        "debug",
    ])
    .unwrap();
    assert_eq!(c.app_id, "nodeapp");
    assert_eq!(c.app_port, Some(3000));
    assert_eq!(c.http_port, 3501);
    assert_eq!(c.internal_grpc_port, Some(47301));
    assert_eq!(c.resources_paths, ["/a", "/b", "/c"].map(PathBuf::from));
    assert!(c.api_logging);
    assert!(!c.enable_metrics);
    assert_eq!(c.log_level, Level::Debug);
    assert_eq!(c.max_body_size, 4 << 20);
    assert_eq!(c.app_max_concurrency, None);
    assert!(c.default_listen_addresses);
}

#[test]
fn bool_flag_does_not_swallow_next_argument() {
    let c = run(&["--log-as-json", "--app-id", "x"]).unwrap();
    assert!(c.log_as_json);
    assert_eq!(c.app_id, "x");
    let e = run(&["--app-id", "x", "--log-as-json", "false"]).unwrap_err();
    assert!(e.0.contains("false"), "{e}");
}

#[test]
fn errors_name_the_flag() {
    let e = run(&["--app-id", "x", "--bogus"]).unwrap_err();
    assert!(e.0.contains("--bogus") && !e.0.contains('\n'), "{e}");
    let e = run(&["--app-id", "x", "--app-port", "http"]).unwrap_err();
    assert!(e.0.contains("--app-port"), "{e}");
    let e = run(&["--app-id", "x", "--log-level", "loud"]).unwrap_err();
    assert!(e.0.contains("--log-level") && e.0.contains("debug"), "{e}");
    let e = run(&["--app-id", "a.b"]).unwrap_err();
    assert!(e.0.contains("--app-id"), "{e}");
    let e = run(&["--app-port", "3000"]).unwrap_err();
    assert!(e.0.contains("--app-id"), "{e}");
    let e = run(&["--app-id", "x", "--app-port", "3500"]).unwrap_err();
    assert!(e.0.contains("--dapr-http-port"), "{e}");
    let c = run(&["--app-id", "x", "--app-protocol", "GRPC"]).unwrap();
    assert_eq!(c.app_protocol, "grpc");
    let c = run(&["--app-id", "x", "--app-protocol", "h2c"]).unwrap();
    assert_eq!(c.app_protocol, "h2c");
    for p in ["grpcs", "https"] {
        let e = run(&["--app-id", "x", "--app-protocol", p]).unwrap_err();
        assert!(
            e.0.contains("--app-protocol") && e.0.contains("not supported yet"),
            "{e}"
        );
    }
    let e = run(&["--app-id", "x", "--app-protocol", "grpc", "--app-ssl"]).unwrap_err();
    assert!(
        e.0.contains("grpcs") && e.0.contains("not supported yet"),
        "{e}"
    );
    let e = run(&["--app-id", "x", "--max-body-size", "lots"]).unwrap_err();
    assert!(e.0.contains("--max-body-size"), "{e}");
}

#[test]
fn unix_domain_socket_takes_an_existing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let c = run(&["--app-id", "x", "--unix-domain-socket", d]).unwrap();
    assert_eq!(c.unix_domain_socket.as_deref(), Some(dir.path()));
    let missing = dir.path().join("nope");
    let e = run(&[
        "--app-id",
        "x",
        "--unix-domain-socket",
        missing.to_str().unwrap(),
    ])
    .unwrap_err();
    assert!(e.0.contains("--unix-domain-socket"), "{e}");
    let c = run(&["--app-id", "x"]).unwrap();
    assert!(c.unix_domain_socket.is_none());
}

#[test]
fn components_path_is_an_alias_used_only_alone() {
    let c = run(&["--app-id", "x", "--components-path", "/old"]).unwrap();
    assert_eq!(c.resources_paths, [PathBuf::from("/old")]);
    let c = run(&[
        "--app-id",
        "x",
        "--components-path",
        "/old",
        "--resources-path",
        "/new",
    ])
    .unwrap();
    assert_eq!(c.resources_paths, [PathBuf::from("/new")]);
}

#[test]
fn app_port_zero_means_no_app() {
    assert_eq!(
        run(&["--app-id", "x", "--app-port", "0"]).unwrap().app_port,
        None
    );
    assert_eq!(
        run(&["--app-id", "x", "--app-port="]).unwrap().app_port,
        None
    );
}

#[test]
fn quantities() {
    assert_eq!(parse_quantity("4Mi"), Some(4 << 20));
    assert_eq!(parse_quantity("4M"), Some(4_000_000));
    assert_eq!(parse_quantity("4000000"), Some(4_000_000));
    assert_eq!(parse_quantity("4Ki"), Some(4096));
    assert_eq!(parse_quantity("1.5Ki"), Some(1536));
    assert_eq!(parse_quantity("4Q"), None);
    assert_eq!(parse_quantity("Mi"), None);
    let c = run(&["--app-id", "x", "--dapr-http-max-request-size", "16"]).unwrap();
    assert_eq!(c.max_body_size, 16 << 20);
    let c = run(&[
        "--app-id",
        "x",
        "--dapr-http-max-request-size",
        "16",
        "--max-body-size",
        "1Mi",
    ])
    .unwrap();
    assert_eq!(c.max_body_size, 1 << 20);
}

#[test]
fn version_prints() {
    let argv = ["daprd", "--version"].map(OsString::from);
    assert!(
        matches!(parse(argv, |_| None).unwrap(), Command::Print(v) if v.trim() == crate::VERSION)
    );
}
