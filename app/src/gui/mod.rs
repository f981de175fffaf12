//! The iced GUI: a thin layer over the session engine.

pub mod i18n;
