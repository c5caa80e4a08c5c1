//! #16: merge loads, incremental windows and their watermark, full refreshes, schema
//! drift — one child per destination pair.

mod sqlite;
