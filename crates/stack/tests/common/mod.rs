//! What the stack's integration tests share.

/// A port nothing listens on now (the kernel's pick).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Python's `http.server` as process `name`, serving the folder `site` on 127.0.0.1:`port`: a
/// real HTTP server whose answers (a probe's path) are files the test writes or removes.
pub fn file_server(name: &str, site: &std::path::Path, port: u16) -> stack::ProcessSpec {
    stack::ProcessSpec::new(name, "python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .cwd(site)
}
