//! The one integration test binary: topic modules over the real `stage` binary and
//! throwaway database servers (see `support`).

mod common;
mod config_cli;
mod harness;
mod mssql_oracle;
mod sqlite_e2e;
mod support;
