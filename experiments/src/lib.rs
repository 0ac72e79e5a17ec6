//! Usactar's experiment kit: chaos scenarios under load, their golden metrics and their reports.
//! The local stack it runs against is the `stack` crate.

pub mod kit;
