//! Ports of the loopback for servers a test starts in another process (the binary) or
//! needs to name before they start.

/// A port of the loopback on which nothing listens (now; the kernel may hand it out again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
