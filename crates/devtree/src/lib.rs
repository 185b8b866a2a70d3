//! Device-tree reader (filled by the device-tree issue).
//!
//! This crate will hold the reader for flattened device-tree blobs (version 16 and 17, checked
//! as libfdt checks them, zero-copy over `&[u8]`) and for the `/proc/device-tree` directory
//! form read through [`fsroot`]; one tree model for both with lookup by path, parents and
//! children, a phandle index and `#address-cells` / `#size-cells` inheritance; and typed
//! property access for the POWER9 NVLink2 properties (`ibm,npu`, `ibm,gpu`, `memory-region`,
//! `reg`, …). Nothing is implemented yet.
#![forbid(unsafe_code)]
