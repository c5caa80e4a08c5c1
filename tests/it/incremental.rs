//! #16: merge loads, incremental windows and their watermark, full refreshes, schema
//! drift — SQLite on its own, and pairs of real servers.

mod drift;
mod pairs;
mod servers;
mod sqlite;
