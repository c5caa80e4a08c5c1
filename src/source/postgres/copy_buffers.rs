//! The buffers a binary COPY read decodes into: plain vectors and a null bitmap per
//! column, turned into Arrow arrays once per batch. Each buffer starts the next batch with
//! room for as many values (and text bytes) as the batch before held, so a steady read
//! never grows a buffer value by value (growing by reallocation was 4 % of DIRECT's CPU).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, BooleanBufferBuilder, FixedSizeBinaryArray, NullBufferBuilder,
    PrimitiveArray, StringArray,
};
use arrow::buffer::{Buffer, OffsetBuffer};
use arrow::datatypes::{ArrowPrimitiveType, DataType};

/// One primitive column's values.
pub(super) struct Prim<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    nulls: NullBufferBuilder,
    data_type: DataType,
}

impl<T: ArrowPrimitiveType> Prim<T> {
    pub(super) fn new(cap: usize) -> Self {
        Self::typed(T::DATA_TYPE, cap)
    }

    /// With a data type of `T`'s kind carrying its parameters (decimal precision and
    /// scale, a timestamp's zone).
    pub(super) fn typed(data_type: DataType, cap: usize) -> Self {
        Prim {
            values: Vec::with_capacity(cap),
            nulls: NullBufferBuilder::new(cap),
            data_type,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, v: T::Native) {
        self.values.push(v);
        self.nulls.append_non_null();
    }

    #[inline]
    pub(super) fn push_null(&mut self) {
        self.values.push(T::Native::default());
        self.nulls.append_null();
    }

    /// Drops the values after the first `len` (a tuple cut off by the end of the data).
    pub(super) fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    pub(super) fn finish(&mut self) -> ArrayRef {
        let rows = self.values.len();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(rows));
        // One null bit per value: every push adds one value and one bit.
        let array = PrimitiveArray::<T>::new(values.into(), self.nulls.finish());
        Arc::new(array.with_data_type(self.data_type.clone()))
    }
}

/// A column of 16-byte values (`uuid`).
pub(super) struct Fixed16 {
    values: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl Fixed16 {
    pub(super) fn new(cap: usize) -> Self {
        Fixed16 {
            values: Vec::with_capacity(cap * 16),
            nulls: NullBufferBuilder::new(cap),
        }
    }

    /// `v` must be 16 bytes long (checked by the caller).
    #[inline]
    pub(super) fn push(&mut self, v: &[u8]) {
        self.values.extend_from_slice(v);
        self.nulls.append_non_null();
    }

    #[inline]
    pub(super) fn push_null(&mut self) {
        self.values.extend_from_slice(&[0; 16]);
        self.nulls.append_null();
    }

    pub(super) fn finish(&mut self) -> ArrayRef {
        let bytes = self.values.len();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(bytes));
        let array = FixedSizeBinaryArray::new(16, Buffer::from_vec(values), self.nulls.finish());
        Arc::new(array)
    }

    pub(super) fn truncate(&mut self, len: usize) {
        self.values.truncate(len * 16);
        self.nulls.truncate(len);
    }
}

/// A boolean column.
pub(super) struct BoolBuf {
    values: BooleanBufferBuilder,
    nulls: NullBufferBuilder,
    cap: usize,
}

impl BoolBuf {
    pub(super) fn new(cap: usize) -> Self {
        BoolBuf {
            values: BooleanBufferBuilder::new(cap),
            nulls: NullBufferBuilder::new(cap),
            cap,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, v: bool) {
        self.values.append(v);
        self.nulls.append_non_null();
    }

    #[inline]
    pub(super) fn push_null(&mut self) {
        self.values.append(false);
        self.nulls.append_null();
    }

    pub(super) fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    pub(super) fn finish(&mut self) -> ArrayRef {
        self.cap = self.cap.max(self.values.len());
        let mut values = std::mem::replace(&mut self.values, BooleanBufferBuilder::new(self.cap));
        Arc::new(BooleanArray::new(values.finish(), self.nulls.finish()))
    }
}

/// Text values gathered as bytes and checked as UTF-8 once per batch (one pass over the
/// whole buffer instead of a call per value); a bad value is then found by its offsets.
pub(super) struct TextBuf {
    offsets: Vec<i32>,
    values: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl TextBuf {
    pub(super) fn with_capacity(cap: usize) -> Self {
        let mut offsets = Vec::with_capacity(cap + 1);
        offsets.push(0);
        TextBuf {
            offsets,
            values: Vec::with_capacity(cap * 16),
            nulls: NullBufferBuilder::new(cap),
        }
    }

    #[inline]
    pub(super) fn append(&mut self, v: &[u8]) -> Result<(), String> {
        self.values.extend_from_slice(v);
        let end = i32::try_from(self.values.len()).map_err(|_| {
            "more than 2 GiB of text in one batch of this column: lower SRC_CHUNK_BYTES".to_string()
        })?;
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    pub(super) fn truncate(&mut self, len: usize) {
        if let Some(&end) = self.offsets.get(len) {
            self.offsets.truncate(len + 1);
            self.values.truncate(end as usize);
            self.nulls.truncate(len);
        }
    }

    #[inline]
    pub(super) fn append_null(&mut self) {
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(last);
        self.nulls.append_null();
    }

    pub(super) fn finish(&mut self) -> Result<ArrayRef, (usize, String)> {
        let mut next = Vec::with_capacity(self.offsets.len());
        next.push(0);
        let offsets = std::mem::replace(&mut self.offsets, next);
        let bytes = self.values.len();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(bytes));
        let nulls = self.nulls.finish();
        if let Err(index) = check_utf8(&values, &offsets) {
            let value = &values[offsets[index] as usize..offsets[index + 1] as usize];
            let detail = match std::str::from_utf8(value) {
                Err(e) => e.to_string(),
                Ok(_) => "a character split between two values".to_string(),
            };
            return Err((index, format!("text is not valid UTF-8 ({detail})")));
        }
        // SAFETY: `check_utf8` proved `values` valid UTF-8 with every offset on a character
        // boundary; the offsets start at 0, never decrease and end at `values.len()` (each
        // append pushes the new end); `nulls`, when present, has one bit per value (every
        // append pushes one offset and one null bit).
        let array = unsafe {
            StringArray::new_unchecked(OffsetBuffer::new(offsets.into()), values.into(), nulls)
        };
        Ok(Arc::new(array))
    }
}

/// Checks a batch of text values in one SIMD pass (`simdutf8`; std's check was half of
/// decoding long text in the `pg_binary_copy` bench) and that no value boundary splits a
/// character. On failure: the index of the first bad value.
fn check_utf8(values: &[u8], offsets: &[i32]) -> Result<(), usize> {
    let value_at = |byte: usize| offsets.partition_point(|&o| o as usize <= byte) - 1;
    if simdutf8::basic::from_utf8(values).is_err() {
        let bad = simdutf8::compat::from_utf8(values)
            .err()
            .map_or(0, |e| e.valid_up_to());
        return Err(value_at(bad));
    }
    // A boundary inside a character starts with a continuation byte (0b10xx_xxxx).
    let inside = |o: &i32| values.get(*o as usize).is_some_and(|&b| (b as i8) < -0x40);
    match offsets.iter().position(inside) {
        // The value that ends at this boundary is the first one cut short.
        Some(i) => Err(i.saturating_sub(1)),
        None => Ok(()),
    }
}
