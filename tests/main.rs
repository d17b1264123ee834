//! Samen's integration tests: a real `samen` process on a random port with a temporary
//! database, and real clients (Rust, Node with Yjs). One test binary, one module per
//! capability.

mod support;

mod access;
mod admin;
mod audit;
mod bad_input;
mod chaos;
mod cluster;
mod comments;
mod convergence;
mod disk_full;
mod exhaustion;
mod exports;
mod file_names;
mod files;
mod headers;
mod history;
mod identity;
mod load;
mod login;
mod meetings;
mod names;
mod oidc;
mod openapi;
mod operations;
mod permissions;
mod persistence;
mod policy;
mod search;
mod sync;
mod timeouts;
mod totp;
mod visits;
mod web;
