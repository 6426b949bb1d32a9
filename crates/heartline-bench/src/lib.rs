//! `heartline-bench`: the engine against a minimal tokio-tungstenite client, both holding N
//! pinging sessions to the lab (a separate process), each client in its own child process so
//! CPU and RSS are measured per process.

pub mod client;
pub mod lab;
pub mod orchestrate;
pub mod procfs;
pub mod report;
