//! Per database: connecting, classifying its errors, its server version — the layer both
//! sources and loaders use.

pub mod oracle;
