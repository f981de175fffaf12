//! The end-to-end tests: real processes (`tandem-rendezvous`, `tandem`), Xvfb, network
//! namespaces, coturn, Redis and an OpenID provider, one module per subject. One test
//! binary for all of them: linking the app once instead of per file.

mod cli;
mod clipboard;
mod config;
mod control;
mod files;
mod gui;
mod network;
mod privacy;
mod records;
mod redis;
mod relay;
mod screen;
mod security;
mod session;
mod shutdown;
mod sign_in;
mod sway;
mod tls_reload;
mod wan;
mod wayland;
mod windows;
