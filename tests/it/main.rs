//! The one integration test binary: topic modules over the real `stage` binary and
//! throwaway database servers (see `support`).

mod archive_cloud;
mod archive_history;
mod archive_query;
mod archive_retention;
mod common;
mod config_cli;
#[cfg(feature = "connectorx")]
mod connectorx_e2e;
#[cfg(feature = "connectorx")]
mod connectorx_zoo;
mod deploy_k8s;
mod faults;
mod incremental;
mod manifest_schema;
mod monitoring;
mod mysql_e2e;
mod mysql_load_data;
mod no_server;
mod parallel;
mod parquet_encode;
mod pg_columns;
mod pg_copy;
mod pg_e2e;
mod pg_parallel_reads;
mod pg_tap;
mod query_output;
mod readers;
mod reconnect;
mod runlog;
mod runlog_e2e;
mod runlog_queries;
mod runlog_status;
mod server_words;
mod shards;
mod smoke_local;
mod sqlite_e2e;
mod support;
mod support_selftest;
mod table_sections;
mod timeouts_mysql;
mod timeouts_pg;
mod tls_mariadb;
mod tls_postgres;
mod wide_rows;
